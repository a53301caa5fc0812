# Test helpers for rlvr's own test tree (not installed).
#
#   rlvr_add_test(<name> SOURCES <files...> LABELS <labels...> [LINK <targets...>] [SKIP_RETURN_CODE 77])
#       One Catch2 executable; its TEST_CASEs are discovered into ctest (prefixed "<name>:"),
#       each carrying LABELS. Always linked to rlvr::rlvr, the precompiled Catch2 main and the
#       dev flags (warnings, sanitizers).
#
#   rlvr_add_compile_fail_test(<name> SOURCE <file> REGEX <regex> [LINK <targets...>] [LABELS ...])
#       Compiles <file> twice with the test's compiler: once with -DRLVR_COMPILE_FAIL_CONTROL,
#       which must succeed (proves the file is otherwise valid), and once without, which must
#       fail with a diagnostic matching <regex>. Keeps concept diagnostics readable.
include_guard(GLOBAL)
include(Catch)

function(rlvr_add_test name)
  cmake_parse_arguments(T "" "SKIP_RETURN_CODE" "SOURCES;LABELS;LINK" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE rlvr::rlvr rlvr_catch_main rlvr_dev_flags ${T_LINK})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  set(props LABELS "${T_LABELS}")
  if(T_SKIP_RETURN_CODE)
    list(APPEND props SKIP_RETURN_CODE ${T_SKIP_RETURN_CODE})
  endif()
  catch_discover_tests(${name} TEST_PREFIX "${name}:" PROPERTIES ${props}
                       DISCOVERY_TIMEOUT 60)
endfunction()

function(rlvr_add_compile_fail_test name)
  cmake_parse_arguments(T "" "SOURCE;REGEX" "LINK;LABELS" ${ARGN})
  set(incs "${PROJECT_SOURCE_DIR}/include" "${PROJECT_SOURCE_DIR}/tests")
  foreach(tgt IN LISTS T_LINK)
    if(TARGET ${tgt})
      get_target_property(dirs ${tgt} INTERFACE_INCLUDE_DIRECTORIES)
      get_target_property(links ${tgt} INTERFACE_LINK_LIBRARIES)
      if(dirs)
        list(APPEND incs ${dirs})
      endif()
      foreach(l IN LISTS links)
        if(TARGET ${l})
          get_target_property(d2 ${l} INTERFACE_INCLUDE_DIRECTORIES)
          if(d2)
            list(APPEND incs ${d2})
          endif()
        endif()
      endforeach()
    endif()
  endforeach()
  list(FILTER incs EXCLUDE REGEX "\\$<INSTALL_INTERFACE")
  list(TRANSFORM incs REPLACE "\\$<BUILD_INTERFACE:(.*)>" "\\1")
  list(REMOVE_DUPLICATES incs)
  string(JOIN "|" incs_joined ${incs})
  get_filename_component(src "${T_SOURCE}" ABSOLUTE)
  add_test(NAME compile_fail:${name}
           COMMAND ${CMAKE_COMMAND} -DCXX=${CMAKE_CXX_COMPILER} -DSRC=${src}
                   "-DINCLUDES=${incs_joined}" "-DREGEX=${T_REGEX}"
                   -P ${PROJECT_SOURCE_DIR}/cmake/run_compile_fail.cmake)
  set_tests_properties(compile_fail:${name} PROPERTIES LABELS "compile_fail;${T_LABELS}")
endfunction()
