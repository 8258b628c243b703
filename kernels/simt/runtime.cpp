#include "kernels/simt/runtime.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include "kernels/simt/capture.h"

namespace gm::simt {

struct Event {
  std::chrono::steady_clock::time_point when{};
  bool recorded = false;
};

namespace {

thread_local cudaError_t last_error = cudaSuccess;

using detail::report;

// Live device allocations (start -> bytes), so that copies can check which side is the device.
class Registry {
 public:
  void add(const void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    live_[address(p)] = bytes;
  }
  bool remove(const void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    return live_.erase(address(p)) == 1;
  }
  // Whether [p, p + bytes) lies inside one allocation.
  bool contains(const void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    const uintptr_t a = address(p);
    auto it = live_.upper_bound(a);
    if (it == live_.begin()) return false;
    --it;
    return a + bytes <= it->first + it->second && (bytes > 0 || a < it->first + it->second);
  }

 private:
  static uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }
  std::mutex mutex_;
  std::map<uintptr_t, size_t> live_;
};

Registry& registry() {
  static Registry r;
  return r;
}
Registry& pinned_registry() {  // cudaMallocHost's allocations
  static Registry r;
  return r;
}

constexpr std::align_val_t kAlignment{256};  // what cudaMalloc guarantees

bool device(const void* p, size_t bytes) {
  return registry().contains(p, bytes);
}

// cudaSuccess when a copy of `bytes` from src to dst matches `kind`.
cudaError_t copy_check(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (!dst || !src) return cudaErrorInvalidValue;
  bool ok = true;
  switch (kind) {
    case cudaMemcpyHostToHost:
      ok = !device(dst, 1) && !device(src, 1);
      break;
    case cudaMemcpyHostToDevice:
      ok = device(dst, bytes) && !device(src, 1);
      break;
    case cudaMemcpyDeviceToHost:
      ok = !device(dst, 1) && device(src, bytes);
      break;
    case cudaMemcpyDeviceToDevice:
      ok = device(dst, bytes) && device(src, bytes);
      break;
    case cudaMemcpyDefault:
      ok = (device(dst, 1) ? device(dst, bytes) : true) &&
           (device(src, 1) ? device(src, bytes) : true);
      break;
    default:
      return cudaErrorInvalidMemcpyDirection;
  }
  return ok ? cudaSuccess : cudaErrorInvalidValue;
}

}  // namespace

namespace detail {

cudaError_t report(cudaError_t e) {
  if (e != cudaSuccess) last_error = e;
  return e;
}

bool pinned(const void* p, size_t bytes) {
  return pinned_registry().contains(p, bytes);
}

}  // namespace detail

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (!ptr) return report(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (const cudaError_t e = detail::unsafe_call_allowed(); e != cudaSuccess) return e;
  if (bytes == 0) return cudaSuccess;
  // Exactly `bytes`, so AddressSanitizer flags the first byte past the end.
  void* p = ::operator new(bytes, kAlignment, std::nothrow);
  if (!p) return report(cudaErrorMemoryAllocation);
  registry().add(p, bytes);
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  if (!ptr) return report(cudaErrorInvalidValue);
  *ptr = bytes == 0 ? nullptr : ::operator new(bytes, kAlignment, std::nothrow);
  if (bytes > 0 && !*ptr) return report(cudaErrorMemoryAllocation);
  if (*ptr) pinned_registry().add(*ptr, bytes);
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  pinned_registry().remove(ptr);
  ::operator delete(ptr, kAlignment);
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  if (const cudaError_t e = detail::unsafe_call_allowed(); e != cudaSuccess) return e;
  if (!registry().remove(ptr)) return report(cudaErrorInvalidDevicePointer);
  ::operator delete(ptr, kAlignment);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  // A synchronous copy is work on the legacy stream.
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  if (const cudaError_t e = copy_check(dst, src, bytes, kind); e != cudaSuccess) return report(e);
  // A captured copy between host and device runs again at every replay; CUDA accepts it only
  // from or to page-locked memory.
  if (stream && stream->capture == cudaStreamCaptureStatusActive &&
      ((!device(dst, 1) && !detail::pinned(dst, bytes)) ||
       (!device(src, 1) && !detail::pinned(src, bytes))))
    return detail::synchronize_allowed(stream);
  return detail::enqueue(stream, [=] { std::memmove(dst, src, bytes); });
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  return cudaMemsetAsync(ptr, value, bytes, nullptr);  // work on the legacy stream
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  if (!device(ptr, bytes)) return report(cudaErrorInvalidValue);
  return detail::enqueue(stream, [=] { std::memset(ptr, value, bytes); });
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  if (!stream) return report(cudaErrorInvalidValue);
  *stream = new Stream;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  return detail::synchronize_allowed(stream);  // everything else already ran when issued
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (!event) return report(cudaErrorInvalidValue);
  *event = new Event;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!event) return report(cudaErrorInvalidResourceHandle);
  return detail::enqueue(stream, [event] {
    event->when = std::chrono::steady_clock::now();
    event->recorded = true;
  });
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!event) return report(cudaErrorInvalidResourceHandle);
  return detail::unsafe_call_allowed();
}
cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (!event) return report(cudaErrorInvalidResourceHandle);
  return detail::unsafe_call_allowed();
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms || !start || !end) return report(cudaErrorInvalidValue);
  if (!start->recorded || !end->recorded) return report(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  return detail::unsafe_call_allowed();
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return report(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device_index) {
  return device_index == 0 ? cudaSuccess : report(cudaErrorInvalidDevice);
}
cudaError_t cudaGetDevice(int* device_index) {
  if (!device_index) return report(cudaErrorInvalidValue);
  *device_index = 0;
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() {
  return last_error;
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer:
      return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection:
      return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice:
      return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorLaunchOutOfResources:
      return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorIllegalState:
      return "cudaErrorIllegalState";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit:
      return "cudaErrorStreamCaptureImplicit";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer:
      return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection:
      return "invalid copy direction for memcpy";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorNotReady:
      return "device not ready";
    case cudaErrorLaunchOutOfResources:
      return "too many resources requested for launch";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure";
    case cudaErrorIllegalState:
      return "the operation cannot be performed in the present state";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
      return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit:
      return "operation would make the legacy stream depend on a capturing blocking stream";
  }
  return "unknown error";
}

}  // namespace gm::simt
