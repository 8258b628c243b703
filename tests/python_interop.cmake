# Interoperability with Python's `safetensors` package. The test is added only where a python3
# can import safetensors and numpy (`pip install safetensors numpy`, then re-run cmake); it never
# downloads anything. Otherwise configure says why it is missing.
set(_gm_interop_python "")
find_program(_gm_python3 NAMES python3)
foreach(candidate ${_gm_python3} /usr/bin/python3)
  if(NOT _gm_interop_python AND EXISTS "${candidate}")
    execute_process(COMMAND "${candidate}" -c "import safetensors.numpy, numpy"
                    RESULT_VARIABLE _gm_import_rc OUTPUT_QUIET ERROR_QUIET)
    if(_gm_import_rc EQUAL 0)
      set(_gm_interop_python "${candidate}")
    endif()
  endif()
endforeach()

if(_gm_interop_python)
  message(STATUS "genmodel: safetensors Python interop test uses ${_gm_interop_python}")
  add_test(NAME checkpoint.python_interop
           COMMAND "${_gm_interop_python}" ${CMAKE_CURRENT_SOURCE_DIR}/python/safetensors_interop.py
                   $<TARGET_FILE:test_checkpoint> ${CMAKE_CURRENT_BINARY_DIR}/python_interop)
else()
  message(STATUS "genmodel: safetensors Python interop test NOT added: no python3 here can "
                 "import safetensors and numpy (pip install safetensors numpy, then re-run cmake)")
endif()
