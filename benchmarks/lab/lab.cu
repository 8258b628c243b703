// nvcc build of the kernel lab: the same driver and kernels as the g++ build.
#include "benchmarks/lab/lab.cpp"
