#include "kernels/simt/runtime.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

namespace gm::simt {

struct Stream {};
struct Event {
  std::chrono::steady_clock::time_point when{};
  bool recorded = false;
};

namespace {

thread_local cudaError_t last_error = cudaSuccess;

cudaError_t report(cudaError_t e) {
  if (e != cudaSuccess) last_error = e;
  return e;
}

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

constexpr std::align_val_t kAlignment{256};  // what cudaMalloc guarantees

bool device(const void* p, size_t bytes) {
  return registry().contains(p, bytes);
}

}  // namespace

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (!ptr) return report(cudaErrorInvalidValue);
  *ptr = nullptr;
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
  return bytes == 0 || *ptr ? cudaSuccess : report(cudaErrorMemoryAllocation);
}

cudaError_t cudaFreeHost(void* ptr) {
  ::operator delete(ptr, kAlignment);
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  if (!registry().remove(ptr)) return report(cudaErrorInvalidDevicePointer);
  ::operator delete(ptr, kAlignment);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return report(cudaErrorInvalidValue);
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
      return report(cudaErrorInvalidMemcpyDirection);
  }
  if (!ok) return report(cudaErrorInvalidValue);
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (!device(ptr, bytes)) return report(cudaErrorInvalidValue);
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t) {
  return cudaMemset(ptr, value, bytes);
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
cudaError_t cudaStreamSynchronize(cudaStream_t) {
  return cudaSuccess;  // everything already ran when it was issued
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
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (!event) return report(cudaErrorInvalidResourceHandle);
  event->when = std::chrono::steady_clock::now();
  event->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  return event ? cudaSuccess : report(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventQuery(cudaEvent_t event) {
  return event ? cudaSuccess : report(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms || !start || !end) return report(cudaErrorInvalidValue);
  if (!start->recorded || !end->recorded) return report(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  return cudaSuccess;
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
  }
  return "unknown error";
}

}  // namespace gm::simt
