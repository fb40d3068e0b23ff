// What conv1_wgmma.cu and conv2_wgmma.cu share: the element type, wgmma's B descriptor and wait, and the
// epilogue's rounding, bias and store order. NVRTC finds it on its include path (nvrtc.compile_cubin).

#pragma once

typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;

#ifdef ELEMENT_BF16
#define MMA_TYPE "bf16"
#else
#define MMA_TYPE "f16"
#endif

__device__ __forceinline__ uint32_t shared_address(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// wgmma B descriptor: K-major, 128-byte swizzle, 8-row groups 1024 bytes apart.
__device__ __forceinline__ uint64_t weight_descriptor(uint32_t address) {
    return (uint64_t)((address & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32)
           | ((uint64_t)1 << 62);
}

template <int N> __device__ __forceinline__ void wait_mma() {
    asm volatile("wgmma.wait_group.sync.aligned %0;" :: "n"(N) : "memory");
}

// Two channels rounded to the element type, the first in the low half.
__device__ __forceinline__ uint32_t round_pair(float first, float second) {
    uint32_t pair;
#ifdef ELEMENT_BF16
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(pair) : "f"(second), "f"(first));
#else
    asm("{\n.reg .f16 lo, hi;\ncvt.rn.f16.f32 lo, %1;\ncvt.rn.f16.f32 hi, %2;\nmov.b32 %0, {lo, hi};\n}"
        : "=r"(pair) : "f"(first), "f"(second));
#endif
    return pair;
}

// The bias of two channels (elements of the input's type) as floats.
__device__ __forceinline__ float2 bias_pair(const unsigned short* bias, int channel) {
    const uint32_t pair = *reinterpret_cast<const uint32_t*>(bias + channel);
#ifdef ELEMENT_BF16
    return make_float2(__uint_as_float(pair << 16), __uint_as_float(pair & 0xFFFF0000u));
#else
    float first, second;
    asm("{\n.reg .f16 lo, hi;\nmov.b32 {lo, hi}, %2;\ncvt.f32.f16 %0, lo;\ncvt.f32.f16 %1, hi;\n}"
        : "=f"(first), "=f"(second) : "r"(pair));
    return make_float2(first, second);
#endif
}

// The channel of accumulator pair j (MMA columns 8 * j + 2 * quad and the next) in the permuted order.
__device__ __forceinline__ int channel_of(int j, int quad) {
    return 32 * (j / 4) + 8 * quad + 2 * (j % 4);
}
