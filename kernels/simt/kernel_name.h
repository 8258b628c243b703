#pragma once
// The short name of a compiled kernel, the key of the resource table (kernel_resources.h): the
// same string from the two sides that must meet, ptxas's report of the nvcc build (a mangled
// entry name) and the emulated build's function (the mangled name of a tag type holding it).
// Both are demangled by the C++ runtime and reduced to the kernel's name and template arguments
// without namespaces or parameters, so gm::cuda::(anonymous namespace)::fill_kernel<float>(float*,
// long, float) and gm::cuda_emu::(anonymous namespace)::fill_kernel<float>(...) are both
// "fill_kernel<float>".
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace gm::simt {

inline std::string kernel_short_name(const std::string& mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status), std::free);
  std::string s = status == 0 ? demangled.get() : mangled;
  // A tag type's name, "gm::simt::KernelTag<&(void gm::...::k<float>(float*))>": keep the
  // function inside.
  const std::string tag = "KernelTag<&(";
  if (const size_t at = s.find(tag); at != std::string::npos && s.size() >= at + tag.size() + 2)
    s = s.substr(at + tag.size(), s.size() - at - tag.size() - 2);
  for (const char* prefix :
       {"void ", "gm::cuda_emu::", "gm::cuda::", "gm::", "(anonymous namespace)::"})
    for (size_t at; (at = s.find(prefix)) != std::string::npos;)
      s.erase(at, std::string(prefix).size());
  // Drop the parameter list: the last top-level '(' .. ')'.
  int depth = 0;
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] == ')') ++depth;
    if (s[i] == '(' && --depth == 0) return s.substr(0, i);
  }
  return s;
}

}  // namespace gm::simt
