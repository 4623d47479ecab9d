/* SPDX-License-Identifier: BSD-3-Clause */
/* Block-aligned split of the bins over ranks. */
#include "h5div_types.h"

void h5div_partition(uint64_t bins, int size, int rank, uint64_t *offset, uint64_t *count)
{
    /* Whole blocks per rank keep every summation block on one rank, which
     * is what makes the sums independent of the rank count. */
    uint64_t nblocks = bins / H5DIV_BLOCK_BINS + (bins % H5DIV_BLOCK_BINS != 0);
    uint64_t b0 = (uint64_t)((unsigned __int128)nblocks * (unsigned)rank / (unsigned)size);
    uint64_t b1 = (uint64_t)((unsigned __int128)nblocks * ((unsigned)rank + 1) / (unsigned)size);
    uint64_t start = b0 * H5DIV_BLOCK_BINS;
    uint64_t end = b1 * H5DIV_BLOCK_BINS;
    if (end > bins)
        end = bins;
    if (start > end)
        start = end;
    *offset = start;
    *count = end - start;
}
