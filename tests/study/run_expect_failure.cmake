# Runs PROGRAM with ARGS ('|'-separated) and passes when it exits non-zero within TIMEOUT seconds
# and its stderr matches EXPECT (a regex): a program must never report success it did not have.
#   cmake -DPROGRAM=<exe> -DARGS="a|b|c" -DEXPECT=<regex> [-DTIMEOUT=20] [-DSETUP_FILE=<path>] -P run_expect_failure.cmake
# SETUP_FILE: a regular file created first (for a path that runs through a regular file).
if(NOT TIMEOUT)
  set(TIMEOUT 20)
endif()
if(SETUP_FILE)
  file(WRITE "${SETUP_FILE}" "a regular file, not a directory\n")
endif()
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND "${PROGRAM}" ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT ${TIMEOUT})
if(rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: exited 0 (expected a failure)\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT rc MATCHES "^[0-9]+$")
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: did not exit by itself (${rc})\nstderr:\n${err}")
endif()
if(NOT err MATCHES "${EXPECT}")
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: stderr does not match '${EXPECT}'\nstderr:\n${err}")
endif()
if(out MATCHES "wrote ")
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: failed but printed 'wrote …'\nstdout:\n${out}")
endif()
message(STATUS "exit ${rc}, stderr: ${err}")
