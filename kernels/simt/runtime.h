#pragma once
// The host side of the CUDA runtime that our backend uses, for the simt executor: device memory
// (ordinary host memory, but tracked, so copies in the wrong direction and frees of foreign
// pointers are errors as on a GPU), copies, memsets, streams, events and error queries.
// Names, signatures and error codes follow the CUDA runtime so the same host code compiles
// against either. Execution is synchronous: a launch or copy has finished when the call returns,
// which is one legal schedule of CUDA's stream semantics.
//
// Stream capture (CUDA Graphs) is emulated too: between cudaStreamBeginCapture and
// cudaStreamEndCapture, launches and async copies/memsets on the stream are recorded as the
// graph's nodes instead of running, and cudaGraphLaunch runs them again in order. What a GPU
// rejects during a capture is rejected here with the same error, and the capture is invalidated
// as on CUDA: synchronising the capturing stream (any mode); in global mode (the calling thread's
// mode, see cudaThreadExchangeStreamCaptureMode) also cudaMalloc, cudaFree, cudaDeviceSynchronize,
// event waits and queries, and work on the legacy default stream (synchronous copies and
// memsets, launches on stream 0), which would wait for the capturing stream.
#include <cstddef>
#include <functional>

#include "kernels/simt/kernel_resources.h"

namespace gm::simt {

// The codes match CUDA's cudaError enumeration.
enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorNotReady = 600,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureImplicit = 906,
};

enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

struct Stream;
struct Event;
using cudaStream_t = Stream*;  // nullptr is the default stream
using cudaEvent_t = Event*;

cudaError_t cudaMalloc(void** ptr, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
// Page-locked host memory: ordinary host memory here (every copy is synchronous), but a
// separate call, so that code which stages copies through it runs unchanged on a GPU.
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemset(void* ptr, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
// cudaSuccess once the work before the event has run: always, since nothing is queued here.
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaDeviceSynchronize();

// ---- stream capture and graphs (the subset the backend uses; CUDA 12 signatures)
enum cudaStreamCaptureMode : int {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus : int {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};
struct Graph;
struct GraphExec;
using cudaGraph_t = Graph*;
using cudaGraphExec_t = GraphExec*;

// Capturing the default stream is unsupported, as on CUDA.
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
// The graph of what was recorded; cudaErrorStreamCaptureInvalidated (and no graph) when a
// forbidden call invalidated the capture.
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);
// Sets the calling thread's mode for unsafe calls during captures, returns the previous one.
cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph,
                                 unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

// For the executor's launches (simt.h), not part of CUDA: records `work` as the next node when
// `stream` is capturing and returns true; returns false when the work is to run now. A launch
// that a capture forbids (on the legacy stream during a global capture, on an invalidated
// capture) is dropped with its error left for cudaGetLastError, as CUDA reports launch errors.
bool record_if_capturing(cudaStream_t stream, std::function<void()>& work);

cudaError_t cudaGetDeviceCount(int* count);  // always one emulated device
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);

// The fields of CUDA's cudaFuncAttributes that our code reads.
struct cudaFuncAttributes {
  size_t sharedSizeBytes = 0;  // static shared memory
  int maxThreadsPerBlock = 0;
  int numRegs = 0;
};
// CUDA's cudaFuncGetAttributes(&attributes, Kernel) with the kernel as a template argument (a
// pointer does not name its kernel here): what ptxas reported for it (kernel_resources.inc), the
// launch limit derived from its registers; a kernel outside the table gets 1024 threads and
// zero registers. kernels/cuda/platform.h's kernel_attributes<Kernel> spells both calls.
template <auto Kernel>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes) {
  const KernelResources* r = kernel_resources<Kernel>();
  attributes->sharedSizeBytes = r ? r->static_shared_bytes : 0;
  attributes->numRegs = r ? r->registers : 0;
  attributes->maxThreadsPerBlock = r ? max_threads_for_registers(r->registers) : 1024;
  return cudaSuccess;
}

// The last error of a runtime call on this thread; Get also resets it.
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

}  // namespace gm::simt
