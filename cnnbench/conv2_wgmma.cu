// AlexNet's conv2 (64 -> 192 channels, 5x5, stride 1, padding 2, 27 x 27) on an NHWC fp16/bf16 input, as
// an implicit GEMM on Hopper's wgmma (sm_90a), without its bias where none is given. Compiled at run time by
// NVRTC, which defines ELEMENT_BF16 for bf16 (else fp16).
//
// cuDNN runs this convolution with a 256 x 64 tile, so each MMA reads 2 KB of weights and 2 KB of image
// from shared memory per 64 x 64 x 16 multiply-adds. Here a program of 3 warpgroups takes 192 output pixels
// by all 192 output channels: an MMA of 64 x 192 x 16 reads 6 KB of weights from shared memory and 2 KB of
// image, into registers.
// - A GEMM row is one output pixel, K runs over the 25 taps, 64 channels (128 bytes, 4 MMA steps) each.
// - Tiles run over the batch's pixels in order (a tile may span two images); a persistent program takes
//   every gridDim.x-th.
// - The input rows the tile's pixels read (at most 13 rows of 27 pixels) are copied into shared memory once,
//   a pixel's 8 16-byte pieces swizzled by its index (piece q at q ^ index % 8); the next tile's rows arrive
//   during this tile's MMAs (cp.async, two buffers).
// - Each lane gives ldmatrix the address of its pixel's piece for the tap, shifted by the tap's offset: that
//   reads the overlapping windows of neighbouring pixels without an im2col copy. Eight consecutive pixels
//   have 8 consecutive indices, so a phase of ldmatrix reads 8 distinct bank groups. A tap's source pixel
//   outside the image reads a zero row.
// - A tap's weights (192 rows of 128 bytes, 24 KB, swizzled for wgmma's B descriptor) stream through 5
//   buffers two taps ahead, one bulk copy each, with a `full` and an `empty` barrier per buffer: the
//   warpgroups do not wait for each other within a tile. Every tile runs the same 25 taps in turn.
// - The weights' output channels are permuted so that the 4 threads of a fragment row store 64 contiguous
//   bytes of a pixel per 16-byte store.

#include "wgmma.cuh"

#define SIDE 27                      // input and output rows and columns
#define PIXELS (SIDE * SIDE)
#define PIXEL_PIECES 8               // 64 channels x 2 bytes, in 16-byte pieces
#define OUT_CHANNELS 192
#define TAPS 25                      // 5 x 5
#define WARPGROUPS 3
#define THREADS (128 * WARPGROUPS)
#define TILE (64 * WARPGROUPS)       // output pixels per tile
#define STAGED_ROWS 13               // input rows a tile reads at most: 192 pixels span 9 rows, and 2 either side
#define STAGE_BYTES 45056            // 13 rows of 27 pixels of 128 bytes, rounded up to 1024
#define TAP_BYTES (OUT_CHANNELS * PIXEL_PIECES * 16)
static_assert(STAGE_BYTES >= STAGED_ROWS * SIDE * PIXEL_PIECES * 16 && STAGE_BYTES % 1024 == 0, "aligned rows");
#define TAP_BUFFERS 5                // a tap's weights stream in FILL_AHEAD taps ahead of its MMAs
#define FILL_AHEAD 2                 // so a warpgroup may run 2 taps ahead of the slowest before it waits
#define AHEAD 2                      // steps between a fragment's load and its MMA
#define SETS 4                       // fragment register sets: AHEAD + 2, and a tap's 4 steps use them in turn
static_assert(SETS == AHEAD + 2 && SETS == 4, "a tap's steps index the sets");

__device__ __forceinline__ void copy_async(uint32_t target, const void* source) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(target), "l"(source));
}

__device__ __forceinline__ void load_matrices(uint32_t (&a)[4], uint32_t address) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3]) : "r"(address));
}

__device__ __forceinline__ void mma(float (&d)[96], const uint32_t (&a)[4], uint64_t b, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %101, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n192k16.f32." MMA_TYPE "." MMA_TYPE " {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95"
        "}, {%96, %97, %98, %99}, %100, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(accumulate));
}

// A tile: output pixels first to first + TILE - 1 of the batch (pixel p is row p / SIDE of all the batch's
// rows, column p % SIDE), and the input rows it reads, from row `top` of the batch on.
struct Tile {
    int first, top, rows;
};

__device__ __forceinline__ Tile tile_at(int index, int pixels) {
    const int first = index * TILE, last = min(first + TILE, pixels) - 1;
    const int first_row = first / SIDE, last_row = last / SIDE;
    const int top = max(first_row - 2, first_row / SIDE * SIDE);
    const int bottom = min(last_row + 2, last_row / SIDE * SIDE + SIDE - 1);
    return {first, top, bottom - top + 1};
}

// Copies the tile's input rows into `buffer` (1024-byte aligned), swizzled: piece q of staged pixel i at
// i * 128 + (q ^ i % 8) * 16.
__device__ __forceinline__ void stage_rows(const uint4* __restrict__ x, uint32_t buffer, const Tile& tile) {
    const uint4* source = x + (size_t)tile.top * SIDE * PIXEL_PIECES;
    for (int c = threadIdx.x; c < tile.rows * SIDE * PIXEL_PIECES; c += THREADS) {
        const int pixel = c / PIXEL_PIECES, piece = c % PIXEL_PIECES;
        copy_async(buffer + pixel * 128 + ((piece ^ (pixel % 8)) << 4), source + c);
    }
}

__device__ __forceinline__ void init_barrier(uint32_t barrier, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" :: "r"(barrier), "r"(count) : "memory");
}

__device__ __forceinline__ void arrive(uint32_t barrier) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" :: "r"(barrier) : "memory");
}

// Waits until the barrier's phase with this parity has completed.
__device__ __forceinline__ void wait_barrier(uint32_t barrier, int parity) {
    asm volatile("{\n.reg .pred done;\nWAIT:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra WAIT;\n}\n" :: "r"(barrier), "r"(parity) : "memory");
}

// One bulk copy of a tap's weights (24 KB, in the order shared memory holds them) that completes `full`.
__device__ __forceinline__ void fill_tap(const uint4* __restrict__ packed, uint32_t buffer, int tap, uint32_t full) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" :: "r"(full), "n"(TAP_BYTES) : "memory");
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                 :: "r"(buffer), "l"(packed + (size_t)tap * (TAP_BYTES / 16)), "n"(TAP_BYTES), "r"(full) : "memory");
}

// The ldmatrix address of a lane's piece of MMA step `step` of kernel column `kw`: `row_address` is its
// pixel's piece `half` shifted by the kernel row (unswizzled: 128 bytes per staged pixel), `in_row` bit kw
// says whether the source pixel lies in the image; else the zero row.
__device__ __forceinline__ uint32_t fragment_address(uint32_t row_address, uint32_t in_row, int kw, int step,
                                                     uint32_t zero) {
    const uint32_t v = row_address + (kw - 2) * 128 + 32 * step;
    return (in_row >> kw) & 1 ? v ^ ((v >> 3) & 0x70) : zero;     // piece bits 4-6 ^= staged pixel % 8 (bits 7-9)
}

extern "C" __global__ void __launch_bounds__(THREADS, 1)
conv2_wgmma(const uint4* __restrict__ x, const uint4* __restrict__ packed, const unsigned short* __restrict__ bias,
            uint4* __restrict__ y, int images) {
    extern __shared__ unsigned char dynamic_shared[];
    // the weights' swizzle atoms and the staged rows' start on 1024 bytes
    unsigned char* taps = dynamic_shared + ((1024 - (shared_address(dynamic_shared) & 1023)) & 1023);
    unsigned char* stages = taps + TAP_BUFFERS * TAP_BYTES;
    unsigned char* zero = stages + 2 * STAGE_BYTES;
    const uint32_t taps_address = shared_address(taps), stages_address = shared_address(stages);
    const uint32_t zero_address = shared_address(zero);
    // a tap buffer's `full` barrier completes when its weights have landed, its `empty` one when every
    // thread's MMAs that read them have run
    const uint32_t full = zero_address + 128, empty = full + 8 * TAP_BUFFERS;
    if (threadIdx.x < 8) reinterpret_cast<uint4*>(zero)[threadIdx.x] = make_uint4(0, 0, 0, 0);

    const int pixels = images * PIXELS, tiles = (pixels + TILE - 1) / TILE;
    int index = blockIdx.x;
    if (index >= tiles) return;
    const int taps_to_run = (tiles - index + gridDim.x - 1) / gridDim.x * TAPS;
    if (threadIdx.x == 0) {
        for (int i = 0; i < TAP_BUFFERS; ++i) {
            init_barrier(full + 8 * i, 1);
            init_barrier(empty + 8 * i, THREADS);
        }
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");    // before the copies complete them
        for (int g = 0; g < FILL_AHEAD && g < taps_to_run; ++g)
            fill_tap(packed, taps_address + g * TAP_BYTES, g, full + 8 * g);
    }
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, group = lane / 4, quad = lane % 4;
    const int fragment_row = 16 * warp + (lane & 7) + 8 * ((lane >> 3) & 1), half = lane >> 4;
    Tile tile = tile_at(index, pixels);
    stage_rows(x, stages_address, tile);
    asm volatile("cp.async.commit_group;");

    int counted = 0;     // taps run so far: the weights of tap `counted` are in buffer counted % TAP_BUFFERS
    for (int round = 0; index < tiles; ++round) {
        const int next = index + gridDim.x;
        asm volatile("cp.async.wait_group 0;" ::: "memory");
        __syncthreads();    // the tile's rows are staged, and every thread is done with the other buffer's
        if (next < tiles) stage_rows(x, stages_address + ((round + 1) & 1) * STAGE_BYTES, tile_at(next, pixels));
        asm volatile("cp.async.commit_group;");
        // this lane's pixel, and which of its 5 x 5 source pixels lie in the image: bit d of rows_in
        // (columns_in) says whether row (column) d - 2 from the pixel's does
        const int p = tile.first + fragment_row, row = p / SIDE % SIDE, column = p % SIDE;
        uint32_t rows_in = 0, columns_in = 0;
#pragma unroll
        for (int d = 0; d < 5; ++d) {
            rows_in |= (uint32_t)(p < pixels && row + d - 2 >= 0 && row + d - 2 < SIDE) << d;
            columns_in |= (uint32_t)(column + d - 2 >= 0 && column + d - 2 < SIDE) << d;
        }
        const uint32_t pixel_address = stages_address + (round & 1) * STAGE_BYTES + (p - tile.top * SIDE) * 128
                                       + 16 * half;
        float acc[96];
#pragma unroll
        for (int i = 0; i < 96; ++i) acc[i] = 0.0f;
        uint32_t a[SETS][4];
#pragma unroll
        for (int s = 0; s < AHEAD; ++s)
            load_matrices(a[s], fragment_address(pixel_address - 2 * SIDE * 128, rows_in & 1 ? columns_in : 0, 0, s,
                                                 zero_address));
#pragma unroll 1
        for (int kh = 0; kh < 5; ++kh) {
            const uint32_t row_address = pixel_address + (kh - 2) * SIDE * 128;
            const uint32_t in_row = (rows_in >> kh) & 1 ? columns_in : 0;
            const uint32_t in_next_row = (rows_in >> (kh + 1)) & 1 ? columns_in : 0;
#pragma unroll
            for (int kw = 0; kw < 5; ++kw) {
                const int buffer = counted % TAP_BUFFERS;
                if (threadIdx.x == 0 && counted + FILL_AHEAD < taps_to_run) {
                    // the buffer of tap counted + FILL_AHEAD last held tap counted + FILL_AHEAD - TAP_BUFFERS
                    const int g = counted + FILL_AHEAD, refill = g % TAP_BUFFERS;
                    if (g >= TAP_BUFFERS) wait_barrier(empty + 8 * refill, (g / TAP_BUFFERS - 1) & 1);
                    fill_tap(packed, taps_address + refill * TAP_BYTES, g % TAPS, full + 8 * refill);
                }
                wait_barrier(full + 8 * buffer, (counted / TAP_BUFFERS) & 1);
                const uint32_t weights = taps_address + buffer * TAP_BYTES;
#pragma unroll
                for (int s = 0; s < 4; ++s) {
                    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
                    mma(acc, a[s], weight_descriptor(weights + 32 * s), (kh | kw | s) != 0);
                    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
                    const int ahead_kw = kw + (s + AHEAD) / 4, ahead_step = (s + AHEAD) % 4;
                    if (ahead_kw < 5)
                        load_matrices(a[(s + AHEAD) % SETS],
                                      fragment_address(row_address, in_row, ahead_kw, ahead_step, zero_address));
                    else if (kh < 4)
                        load_matrices(a[(s + AHEAD) % SETS], fragment_address(row_address + SIDE * 128, in_next_row,
                                                                              0, ahead_step, zero_address));
                    wait_mma<1>();
                    // the tap before's MMAs have all run
                    if (s == 0 && (kh | kw) != 0) arrive(empty + 8 * ((counted + TAP_BUFFERS - 1) % TAP_BUFFERS));
                }
                ++counted;
            }
        }
        wait_mma<0>();
        arrive(empty + 8 * ((counted + TAP_BUFFERS - 1) % TAP_BUFFERS));

        // rows group and group + 8 of the warp's 16: pixels tile.first + 16 * warp + group + 8 * u
#pragma unroll
        for (int u = 0; u < 2; ++u) {
            const int q = tile.first + 16 * warp + group + 8 * u;
            if (q >= pixels) continue;
            uint4* out = y + (size_t)q * (OUT_CHANNELS / 8) + quad;
#pragma unroll
            for (int k = 0; k < OUT_CHANNELS / 32; ++k) {
                uint32_t pair[4];
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int j = 4 * k + i;
                    const float2 b = bias ? bias_pair(bias, channel_of(j, quad)) : make_float2(0.0f, 0.0f);
                    pair[i] = round_pair(acc[4 * j + 2 * u] + b.x, acc[4 * j + 2 * u + 1] + b.y);
                }
                out[4 * k] = make_uint4(pair[0], pair[1], pair[2], pair[3]);
            }
        }
        index = next;
        if (index < tiles) tile = tile_at(index, pixels);
    }
}
