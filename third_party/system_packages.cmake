# Every library genmodel uses comes from the system (Debian packages, scripts/setup.sh); nothing
# is copied into this repository. This file finds them, and GENMODEL_THIRD_PARTY_SOURCES lists
# the glue compiled into genmodel_core for them (stb is header-only: one unit holds its code).
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
# OpenBLAS built for OpenMP (Debian's libopenblas-openmp-dev): its GEMMs then share the one
# OpenMP thread pool with our own loops. The pthread build runs a second pool, and the two
# fight for the cores whenever an OpenMP loop is followed by a GEMM (measured: 3-6x slower
# masked convolutions on 2 cores; see docs/masked-convolution.md).
find_library(OPENBLAS_LIBRARY NAMES openblas blas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
find_path(OPENBLAS_CBLAS_INCLUDE cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
if(NOT OPENBLAS_LIBRARY OR NOT OPENBLAS_CBLAS_INCLUDE)
  message(FATAL_ERROR "OpenBLAS for OpenMP not found: run scripts/setup.sh "
                      "(installs libopenblas-openmp-dev)")
endif()
set(BLAS_LIBRARIES ${OPENBLAS_LIBRARY})
message(STATUS "genmodel: BLAS ${OPENBLAS_LIBRARY}")
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)
# Image files from anywhere are decoded by libpng and libjpeg-turbo (engine/io/image_decode.h).
find_package(PNG REQUIRED)
find_path(TURBOJPEG_INCLUDE_DIR turbojpeg.h REQUIRED)
find_library(TURBOJPEG_LIBRARY turbojpeg REQUIRED)

# The simt executor runs each CUDA thread as a Boost.Context fiber.
find_package(Boost 1.74 REQUIRED COMPONENTS context)

set(GENMODEL_THIRD_PARTY_SOURCES ${CMAKE_CURRENT_LIST_DIR}/stb_impl.cpp)
