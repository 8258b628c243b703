#pragma once
// cuDNN as the kernel lab's yardstick for the masked convolution (nvcc build only). The library
// is opened at run time (dlopen), not linked: a GPU machine without cuDNN still runs the whole
// lab and prints "cuDNN not found", and the GPU bundle (scripts/gpu-bundle.sh) never carries it.
// Only the header is needed at build time, for the types and the functions' signatures.
//
// The masked kernel is handed to cuDNN as a dense k x k kernel whose masked taps are zeros,
// which is what cuDNN computes: it multiplies the zeros too, so its GFLOP/s (counted, like our
// versions', over the visible taps) understate its arithmetic rate by the kernel's zero share.
#include <cuda_runtime.h>
#include <cudnn.h>
#include <dlfcn.h>

#include <cstdio>
#include <string>

#include "benchmarks/lab/masked_conv_versions.cuh"

namespace gm::lab {

class CudnnBaseline {
 public:
  // Opens libcudnn and creates a handle; false (and why in `problem()`) when it cannot.
  bool load() {
    for (const char* name : {"libcudnn.so.9", "libcudnn.so.8", "libcudnn.so"}) {
      library_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (library_) break;
    }
    if (!library_) {
      const char* why = dlerror();
      problem_ = std::string("cuDNN not found (") + (why ? why : "dlopen failed") +
                 "): the masked convolution runs without its cuDNN baseline";
      return false;
    }
    const bool resolved = bind(create_, "cudnnCreate") &&
                          bind(error_string_, "cudnnGetErrorString") &&
                          bind(create_tensor_, "cudnnCreateTensorDescriptor") &&
                          bind(create_filter_, "cudnnCreateFilterDescriptor") &&
                          bind(create_conv_, "cudnnCreateConvolutionDescriptor") &&
                          bind(set_tensor_, "cudnnSetTensor4dDescriptor") &&
                          bind(set_filter_, "cudnnSetFilter4dDescriptor") &&
                          bind(set_conv_, "cudnnSetConvolution2dDescriptor") &&
                          bind(workspace_size_, "cudnnGetConvolutionForwardWorkspaceSize") &&
                          bind(forward_, "cudnnConvolutionForward") &&
                          bind(destroy_tensor_, "cudnnDestroyTensorDescriptor") &&
                          bind(destroy_filter_, "cudnnDestroyFilterDescriptor") &&
                          bind(destroy_conv_, "cudnnDestroyConvolutionDescriptor");
    if (!resolved) return false;
    if (const cudnnStatus_t status = create_(&handle_); status != CUDNN_STATUS_SUCCESS) {
      problem_ = std::string("cudnnCreate failed: ") + error_string_(status);
      return false;
    }
    return true;
  }
  const std::string& problem() const { return problem_; }

  // y = the convolution of x with w (already masked: the masked taps are zeros), stride 1,
  // "same" padding, cross-correlation as in our kernels. Returns false with `problem()` set.
  bool forward(const ConvShape& s, const float* x, const float* w, float* y) {
    cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
    cudnnFilterDescriptor_t wd = nullptr;
    cudnnConvolutionDescriptor_t cd = nullptr;
    const auto algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
    size_t bytes = 0;
    const float one = 1.0f, zero = 0.0f;
    const bool ok =
        ok_(create_tensor_(&xd), "descriptor") && ok_(create_tensor_(&yd), "descriptor") &&
        ok_(create_filter_(&wd), "descriptor") && ok_(create_conv_(&cd), "descriptor") &&
        ok_(set_tensor_(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.N, s.C, s.H, s.W),
            "x descriptor") &&
        ok_(set_tensor_(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.N, s.K, s.H, s.W),
            "y descriptor") &&
        ok_(set_filter_(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.K, s.C, s.k, s.k),
            "w descriptor") &&
        ok_(set_conv_(cd, s.k / 2, s.k / 2, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            "conv descriptor") &&
        ok_(workspace_size_(handle_, xd, wd, cd, yd, algo, &bytes), "workspace size") &&
        reserve(bytes) &&
        ok_(forward_(handle_, &one, xd, x, wd, w, cd, algo, workspace_, bytes, &zero, yd, y),
            "cudnnConvolutionForward");
    if (cd) destroy_conv_(cd);
    if (wd) destroy_filter_(wd);
    if (yd) destroy_tensor_(yd);
    if (xd) destroy_tensor_(xd);
    return ok;
  }

 private:
  template <typename F>
  bool bind(F& f, const char* name) {
    f = reinterpret_cast<F>(dlsym(library_, name));
    if (!f) problem_ = std::string("cuDNN found but lacks ") + name + ": too old a version";
    return f != nullptr;
  }
  bool ok_(cudnnStatus_t status, const char* what) {
    if (status == CUDNN_STATUS_SUCCESS) return true;
    problem_ = std::string(what) + " failed: " + error_string_(status);
    return false;
  }
  // One workspace for the largest configuration.
  bool reserve(size_t bytes) {
    if (bytes <= workspace_bytes_) return true;
    cudaFree(workspace_);
    workspace_ = nullptr;
    workspace_bytes_ = 0;
    if (cudaMalloc(&workspace_, bytes) != cudaSuccess) {
      problem_ = "cudaMalloc of the cuDNN workspace failed";
      return false;
    }
    workspace_bytes_ = bytes;
    return true;
  }

  void* library_ = nullptr;
  cudnnHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::string problem_;
  decltype(&cudnnCreate) create_ = nullptr;
  decltype(&cudnnGetErrorString) error_string_ = nullptr;
  decltype(&cudnnCreateTensorDescriptor) create_tensor_ = nullptr;
  decltype(&cudnnCreateFilterDescriptor) create_filter_ = nullptr;
  decltype(&cudnnCreateConvolutionDescriptor) create_conv_ = nullptr;
  decltype(&cudnnSetTensor4dDescriptor) set_tensor_ = nullptr;
  decltype(&cudnnSetFilter4dDescriptor) set_filter_ = nullptr;
  decltype(&cudnnSetConvolution2dDescriptor) set_conv_ = nullptr;
  decltype(&cudnnGetConvolutionForwardWorkspaceSize) workspace_size_ = nullptr;
  decltype(&cudnnConvolutionForward) forward_ = nullptr;
  decltype(&cudnnDestroyTensorDescriptor) destroy_tensor_ = nullptr;
  decltype(&cudnnDestroyFilterDescriptor) destroy_filter_ = nullptr;
  decltype(&cudnnDestroyConvolutionDescriptor) destroy_conv_ = nullptr;
};

}  // namespace gm::lab
