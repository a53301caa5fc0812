# Configures SRC into BIN with ARGS and expects the configure step to FAIL with output matching
# REGEX (an error message that says why and how to fix it).
file(REMOVE_RECURSE ${BIN})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${BIN} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
string(REGEX REPLACE "[ \t\r\n]+" " " text "${out} ${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "configure of ${SRC} succeeded but was expected to fail:\n${text}")
endif()
if(NOT text MATCHES "${REGEX}")
  message(FATAL_ERROR "configure of ${SRC} failed without the expected message '${REGEX}':\n${out}\n${err}")
endif()
message(STATUS "failed as expected: ${text}")
