// AlexNet's conv1 (3 -> 64 channels, 11x11, stride 4, padding 2, 224 x 224 in, 55 x 55 out) on an NHWC
// fp16/bf16 image, as an implicit GEMM on Hopper's wgmma (sm_90a) with the image operand in registers.
// Compiled at run time by NVRTC (conv1_wgmma.py), which defines ELEMENT_BF16 for bf16 (else fp16).
//
// A GEMM row is one output pixel; its K runs over the 11 kernel rows, 34 elements each (the window's 11
// pixels x 3 channels and one zero tap, so that a thread's K pair never straddles two kernel rows), 374
// in all, padded to 384: 6% more multiply-adds than the convolution has.
// - A persistent program of 4 warpgroups takes tiles of 256 output pixels of one image. It copies the
//   input rows a tile reads into shared memory once (cp.async, double-buffered: the next tile's rows
//   arrive during this tile's MMAs).
// - Each thread loads its A fragments from those rows with 4-byte shared loads at any address: that is
//   how the overlapping windows of neighbouring pixels are read without an im2col copy. A warp's 16
//   rows are 16 neighbouring pixels, even ones first: a pixel's window starts 24 bytes after its
//   neighbour's, so 8 pixels two apart fall on 8 disjoint groups of 4 banks.
// - The weights (K x 64) stay in shared memory for the program's life, 128-byte swizzled for wgmma's B
//   descriptor.
// - The epilogue runs the 3x3, stride-2 max-pool that follows and the ReLU after it, so the kernel writes
//   the pool's 27 x 27 output, bias added before rounding. Row part: window q of a row is the max of
//   pixels 2q, 2q + 1 and 2q + 2 (NaN wins). A thread holds two neighbouring pixels, and takes the next
//   two from the thread of the next fragment row (a shuffle) or, at a warp's last row, from the next warp
//   (through shared memory). Tiles overlap by two pixels, and each window is stored by the tile that holds
//   its first pixel and the two after it, into a ring of 8 rows of row maxima in shared memory.
// - Column part: a program takes the 12 tiles of an image in order, so once a tile has stored the last
//   window of conv row 2i + 2, pooled row i is the max of ring rows 2i to 2i + 2. The ring holds every row
//   a pooled row still needs: 2 rows left over and the at most 6 a tile touches. Images left over after
//   the last round of whole images (images % programs) go in bands, one pooled row per tile (its 3 conv
//   rows), where those finish sooner than one more round of whole images (conv1_wgmma.py's schedule).
// - Where few images leave programs idle (a batch of 32: 3 rounds of tiles against 12 of whole images),
//   the kernel stores the row maxima instead, each tile on its own, for the caller to finish the pool.
// - The weights' output channels are permuted so that a thread's accumulators hold channels 8 * quad to
//   8 * quad + 7 and 32 more than those: the 4 threads of a fragment row store a pixel's 128 bytes in two
//   16-byte stores each, 64 contiguous bytes per store.

#include "wgmma.cuh"

#define OUT_W 55
#define POOLED_W 27                 // 3-wide windows at stride 2 in a row of 55
#define PIXELS 3025                 // 55 x 55 output pixels per image
#define IN_H 224
#define ROW_CHUNKS 84               // 224 pixels x 3 channels x 2 bytes = 1344 bytes, in 16-byte chunks
#define ROW_BYTES 1376              // a staged row: 16 zero bytes, the image row, 16 zero bytes
#define TAPS 34                     // K elements per kernel row
#define K_USED 374                  // 11 x 34
#define K_STEPS 24                  // K = 384 in steps of 16
#define WARPGROUPS 4
#define THREADS (128 * WARPGROUPS)
#define TILE (64 * WARPGROUPS)      // output pixels per tile
#define STEP (TILE - 2)            // pixels between tiles' first pixels
#define TILES ((PIXELS - 2 + STEP - 1) / STEP)              // per image
#define ROWS (4 * ((TILE - 2) / OUT_W + 1) + 11)            // input rows a tile reads at most
#define BUFFER_BYTES (ROWS * ROW_BYTES)
#define WEIGHT_BYTES 49152          // 6 chunks of 64 K x 64 channels, 8 KB each
#define EDGE_BYTES 4096             // per warp, its first fragment row's two pixels: 4 threads x 64 bytes
static_assert(EDGE_BYTES == WARPGROUPS * 4 * 4 * 64, "one edge per warp");
#define RING_ROWS 8                 // rows of row maxima a program keeps (a power of 2)
#define RING_BYTES (RING_ROWS * POOLED_W * 128)
#define BAND (3 * OUT_W)            // the pixels of the 3 conv rows of one pooled row
#define AHEAD 2                     // steps between a fragment's loads and its MMA
#define SETS (AHEAD + 2)            // fragment register sets: one MMA in flight past the last issued

__device__ __forceinline__ uint32_t load_shared(uint32_t address) {
    uint32_t v;
    asm volatile("ld.shared.b32 %0, [%1];" : "=r"(v) : "r"(address));
    return v;
}

// Byte offset, within a pixel's window, of K element k (even): kernel row k / 34, element k % 34 of it.
// The padding K elements read the first row's elements (image values, times zero weights).
__device__ __forceinline__ int k_offset(int k) {
    return k < K_USED ? (k / TAPS) * ROW_BYTES + 2 * (k % TAPS) : 2 * (k - K_USED);
}

// This thread's A fragment of K step s: rows g (window[0]) and g + 8 (window[1]), K pairs 2 * quad and
// 2 * quad + 8 of the step.
__device__ __forceinline__ void load_fragment(uint32_t (&a)[4], uint32_t base, const int (&window)[2], int s,
                                              int quad) {
    const int low = k_offset(16 * s + 2 * quad), high = k_offset(16 * s + 8 + 2 * quad);
    a[0] = load_shared(base + window[0] + low);
    a[1] = load_shared(base + window[1] + low);
    a[2] = load_shared(base + window[0] + high);
    a[3] = load_shared(base + window[1] + high);
}

__device__ __forceinline__ void mma(float (&d)[32], const uint32_t (&a)[4], uint64_t b, int accumulate) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32." MMA_TYPE "." MMA_TYPE " "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(accumulate));
}

// The elementwise max of two pairs of elements, NaN winning as in PyTorch's max-pool.
__device__ __forceinline__ uint32_t max_pair(uint32_t a, uint32_t b) {
    uint32_t d;
    asm("max.NaN." MMA_TYPE "x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

// A program's k-th tile: output pixels first to first + TILE - 1 of an image; it stores the windows that
// start before pixel first + limit, and pooled rows lo to hi - 1 are complete after it.
struct Tile {
    int image, first, limit, lo, hi;
};

// The pooled rows whose last window starts before pixel p: row i's starts at (2i + 2) * OUT_W + OUT_W - 3.
__device__ __forceinline__ int pooled_rows_before(int p) {
    const int last_of_row_0 = 3 * OUT_W - 3;
    return p <= last_of_row_0 ? 0 : min(POOLED_W, (p - last_of_row_0 + 2 * OUT_W - 1) / (2 * OUT_W));
}

// This program's k-th tile, false past its last. Pooling: first the 12 tiles of each of its images below
// `banded_from`, in order, then its share of the bands of the images from there on. Else every
// gridDim.x-th tile of the batch, storing row maxima (no pooled rows).
__device__ __forceinline__ bool tile_of(int k, int images, int banded_from, bool pooling, Tile& tile) {
    if (!pooling) {
        const int item = (int)blockIdx.x + (int)gridDim.x * k;
        tile = {item / TILES, item % TILES * STEP, STEP, 0, 0};
        return item < images * TILES;
    }
    const int whole = (banded_from - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x;
    if (k < whole * TILES) {
        const int t = k % TILES;
        tile = {(int)blockIdx.x + (int)gridDim.x * (k / TILES), t * STEP, STEP,
                pooled_rows_before(t * STEP), pooled_rows_before((t + 1) * STEP)};
        return true;
    }
    const int band = (int)blockIdx.x + (int)gridDim.x * (k - whole * TILES), row = band % POOLED_W;
    if (band >= (images - banded_from) * POOLED_W) return false;
    tile = {banded_from + band / POOLED_W, 2 * OUT_W * row, BAND, row, row + 1};
    return true;
}

// Copies the input rows that `tile` reads into `buffer`, row i holding input row 4 * first_out_row - 2 + i
// with 16 zero bytes either side; rows outside the image are zero.
__device__ __forceinline__ void stage_rows(const unsigned char* __restrict__ x, unsigned char* buffer,
                                           const Tile& tile) {
    const int image = tile.image, first = tile.first;
    const int top_out = first / OUT_W, bottom_out = min(first + TILE - 1, PIXELS - 1) / OUT_W;
    const int rows = 4 * (bottom_out - top_out) + 11, top = 4 * top_out - 2;
    const unsigned char* source = x + (size_t)image * IN_H * ROW_CHUNKS * 16;
    for (int c = threadIdx.x; c < rows * (ROW_CHUNKS + 2); c += THREADS) {
        const int i = c / (ROW_CHUNKS + 2), j = c % (ROW_CHUNKS + 2) - 1, row = top + i;
        unsigned char* target = buffer + i * ROW_BYTES + 16 + 16 * j;
        if (row >= 0 && row < IN_H && j >= 0 && j < ROW_CHUNKS) {
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16;"
                         :: "r"(shared_address(target)), "l"(source + ((size_t)row * ROW_CHUNKS + j) * 16));
        } else {
            *reinterpret_cast<uint4*>(target) = make_uint4(0, 0, 0, 0);
        }
    }
}

// Piece c (16 bytes: 8 channels of a window) of the pooled rows the tile before completed, `done`: its image
// and rows lo to hi - 1, each the max of ring rows 2i to 2i + 2, ReLU'd. A tile completes at most 3 pooled
// rows (254 pixels span less than 3 pairs of rows of 55), 648 pieces: two per thread.
__device__ __forceinline__ void store_pooled(const uint4* ring, uint4* __restrict__ y, const int (&done)[3], int c) {
    const int row_pieces = POOLED_W * 8;     // 27 windows x 64 channels
    if (c >= (done[2] - done[1]) * row_pieces) return;
    const int i = done[1] + c / row_pieces, piece = c % row_pieces;
    const uint4 a = ring[(2 * i) % RING_ROWS * row_pieces + piece];
    const uint4 b = ring[(2 * i + 1) % RING_ROWS * row_pieces + piece];
    const uint4 d = ring[(2 * i + 2) % RING_ROWS * row_pieces + piece];
    y[((size_t)done[0] * POOLED_W + i) * row_pieces + piece] =
        make_uint4(max_pair(max_pair(max_pair(a.x, b.x), d.x), 0), max_pair(max_pair(max_pair(a.y, b.y), d.y), 0),
                   max_pair(max_pair(max_pair(a.z, b.z), d.z), 0), max_pair(max_pair(max_pair(a.w, b.w), d.w), 0));
}
static_assert(3 * POOLED_W * 8 <= 2 * THREADS, "two pieces per thread");

extern "C" __global__ void __launch_bounds__(THREADS, 1)
conv1_wgmma(const unsigned char* __restrict__ x, const uint4* __restrict__ packed,
            const unsigned short* __restrict__ bias, uint4* __restrict__ y, int images, int banded_from,
            int pooling) {
    extern __shared__ unsigned char dynamic_shared[];
    // the weights' swizzle atoms must start on 1024 bytes
    unsigned char* weights = dynamic_shared + ((1024 - (shared_address(dynamic_shared) & 1023)) & 1023);
    unsigned char* buffers = weights + WEIGHT_BYTES;
    unsigned char* edges = buffers + 2 * BUFFER_BYTES;
    uint4* ring = reinterpret_cast<uint4*>(edges + EDGE_BYTES);
    for (int i = threadIdx.x; i < WEIGHT_BYTES / 16; i += THREADS)
        reinterpret_cast<uint4*>(weights)[i] = packed[i];
    __syncthreads();

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, group = lane / 4, quad = lane % 4;
    const uint32_t weights_address = shared_address(weights);
    Tile tile, ahead;     // this round's tile and the next one's, whose rows are staged during this one
    int done[3] = {0, 0, 0};    // the tile before's image and pooled rows lo, hi: not stored yet
    bool more = tile_of(0, images, banded_from, pooling, tile);
    if (more) stage_rows(x, buffers, tile);
    asm volatile("cp.async.commit_group;");

    for (int round = 0; more; ++round) {
        unsigned char* buffer = buffers + (round & 1) * BUFFER_BYTES;
        if (tile_of(round + 1, images, banded_from, pooling, ahead))
            stage_rows(x, buffers + ((round + 1) & 1) * BUFFER_BYTES, ahead);
        asm volatile("cp.async.commit_group;");
        asm volatile("cp.async.wait_group 1;" ::: "memory");
        __syncthreads();    // this tile's rows are staged, and the tile before stored its windows in the ring

        const int first = tile.first, limit = tile.limit, top_out = first / OUT_W;
        const int local = warp * 16 + 2 * group;        // rows g: this tile pixel; rows g + 8: the next
        int window[2];
        for (int u = 0; u < 2; ++u) {
            const int p = min(first + local + u, PIXELS - 1);    // a tile's last pixels may lie past the image
            window[u] = 4 * (p / OUT_W - top_out) * ROW_BYTES + 24 * (p % OUT_W) + 4;
        }
        const uint32_t base = shared_address(buffer);

        float acc[32];
#pragma unroll
        for (int i = 0; i < 32; ++i) acc[i] = 0.0f;
        // one MMA may be in flight past the one just issued, and each step loads the fragments of the
        // step AHEAD steps on, into the register set of an MMA finished by then
        uint32_t a[SETS][4];
#pragma unroll
        for (int s = 0; s < AHEAD; ++s) load_fragment(a[s], base, window, s, quad);
#pragma unroll
        for (int s = 0; s < K_STEPS; ++s) {
            asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
            mma(acc, a[s % SETS], weight_descriptor(weights_address + (s / 4) * 8192 + (s % 4) * 32), s > 0);
            asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
            if (s + AHEAD < K_STEPS) load_fragment(a[(s + AHEAD) % SETS], base, window, s + AHEAD, quad);
            // the pooled rows of the tile before, while MMAs run (their ring rows are not written before
            // the barrier after this loop)
            if (s == 1) store_pooled(ring, y, done, threadIdx.x);
            if (s == 3) store_pooled(ring, y, done, threadIdx.x + THREADS);
            wait_mma<1>();
        }
        wait_mma<0>();

        // the tile's output, rounded: pixel local + u's channels channel_of(j, quad) and the next in pixels[u][j]
        uint32_t pixels[2][8], next[2][8];
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            float2 b = make_float2(0.0f, 0.0f);
            if (bias) b = bias_pair(bias, channel_of(j, quad));
#pragma unroll
            for (int u = 0; u < 2; ++u)
                pixels[u][j] = round_pair(acc[4 * j + 2 * u] + b.x, acc[4 * j + 2 * u + 1] + b.y);
        }
        // pixels local + 2 and local + 3: the next fragment row's, or for the last row the next warp's first
        uint32_t* edge = reinterpret_cast<uint32_t*>(edges) + 16 * (4 * warp + quad);
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            next[i / 8][i % 8] = __shfl_down_sync(0xFFFFFFFFu, pixels[i / 8][i % 8], 4);
            if (group == 0) edge[i] = pixels[i / 8][i % 8];
        }
        __syncthreads();    // the edges are written, every MMA of the program has read its rows, and the
                            // pooled rows of the tile before are stored
        if (group == 7 && warp + 1 < WARPGROUPS * 4) {
#pragma unroll
            for (int i = 0; i < 16; ++i) next[i / 8][i % 8] = edge[64 + i];
        }
        // the window that starts at pixel local or else at local + 1, if one does and this tile stores it
        const bool at_local = (first + local) % OUT_W % 2 == 0 && (first + local) % OUT_W <= OUT_W - 3;
        const int start = first + local + !at_local, column = start % OUT_W;
        if (local + !at_local < limit && start < PIXELS && column % 2 == 0 && column <= OUT_W - 3) {
            uint32_t peak[8];
#pragma unroll
            for (int j = 0; j < 8; ++j)
                peak[j] = at_local ? max_pair(max_pair(pixels[0][j], pixels[1][j]), next[0][j])
                                   : max_pair(max_pair(pixels[1][j], next[0][j]), next[1][j]);
            uint4* out = (pooling ? ring + (start / OUT_W) % RING_ROWS * POOLED_W * 8
                                  : y + ((size_t)tile.image * OUT_W + start / OUT_W) * POOLED_W * 8) + column / 2 * 8 + quad;
            out[0] = make_uint4(peak[0], peak[1], peak[2], peak[3]);
            out[4] = make_uint4(peak[4], peak[5], peak[6], peak[7]);
        }
        done[0] = tile.image, done[1] = tile.lo, done[2] = tile.hi;
        more = tile_of(round + 1, images, banded_from, pooling, tile);    // again: `ahead` is not kept live through the MMAs
    }
    __syncthreads();    // the last tile's windows are in the ring
    store_pooled(ring, y, done, threadIdx.x);
    store_pooled(ring, y, done, threadIdx.x + THREADS);
}
