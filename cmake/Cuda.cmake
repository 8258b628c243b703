# The CUDA backends plug in here (docs/cuda.md):
#   - the emulated CUDA backend ("cuda-emu"): the kernel sources of kernels/cuda built by g++
#     against our CPU executor (kernels/simt), always, so that every CUDA kernel runs in the test
#     suite on machines without a GPU;
#   - the real CUDA backend, the same sources built by nvcc, when GENMODEL_CUDA is ON, or AUTO
#     and nvcc works.
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

if(GENMODEL_HAVE_CUDA)
  # Every kernel is compiled for these targets; ptxas warnings about spills and local memory
  # are errors (scripts/test.sh's compile gate).
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  # CMake 3.25 does not know nvcc's C++20 flag (nvcc has it since CUDA 12.0). Every target in
  # the project is C++20 (CMAKE_CXX_STANDARD), and a target with CUDA objects then needs the
  # CUDA20 dialect too: without the flag, the Makefile generator refuses to generate. Newer
  # CMake sets these itself.
  if(CMAKE_CUDA_COMPILER_ID STREQUAL "NVIDIA" AND CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0
     AND NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_COMPILE_FEATURES cuda_std_20)
    list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
  endif()
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
endif()

function(genmodel_attach_cuda_backends target)
  add_subdirectory(${CMAKE_SOURCE_DIR}/kernels/simt ${CMAKE_BINARY_DIR}/kernels/simt)
  target_link_libraries(${target} PUBLIC genmodel_simt)
  if(EXISTS ${CMAKE_SOURCE_DIR}/kernels/cuda/CMakeLists.txt)
    add_subdirectory(${CMAKE_SOURCE_DIR}/kernels/cuda ${CMAKE_BINARY_DIR}/kernels/cuda)
  endif()
endfunction()
