# The CUDA backends plug in here (see docs/design-notes.md):
#   - the real CUDA backend, kernels built by nvcc, when GENMODEL_CUDA is ON or AUTO and nvcc works;
#   - the emulated CUDA backend ("cuda-emu"), the same kernel sources built by g++ against our CPU
#     executor, always, so that every CUDA kernel runs in the test suite on machines without a GPU.
# Until kernels/cuda exists this only records the choice.
set(GENMODEL_HAVE_CUDA OFF)
if(NOT GENMODEL_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(GENMODEL_HAVE_CUDA ON)
  elseif(GENMODEL_CUDA STREQUAL "ON")
    message(FATAL_ERROR "GENMODEL_CUDA=ON but no CUDA compiler was found: install the CUDA toolkit "
                        "or configure with -DGENMODEL_CUDA=OFF")
  endif()
endif()
message(STATUS "genmodel: real CUDA backend ${GENMODEL_HAVE_CUDA}")

function(genmodel_attach_cuda_backends target)
  if(EXISTS ${CMAKE_SOURCE_DIR}/kernels/cuda/CMakeLists.txt)
    add_subdirectory(${CMAKE_SOURCE_DIR}/kernels/cuda ${CMAKE_BINARY_DIR}/kernels/cuda)
  endif()
endfunction()
