// Transparent huge pages for large, randomly accessed buffers (the uint8 training set).
#pragma once

#include <cstddef>

namespace keel {

// Asks the kernel to back the 2 MiB-aligned part of [p, p + bytes) with huge pages on first touch
// (madvise MADV_HUGEPAGE; Debian's default THP mode is "madvise"). Call it on freshly reserved,
// untouched memory. A shuffled batch reads rows scattered over the whole 47 MB training set, so
// with 4 KiB pages nearly every row is a TLB miss (a costly nested page walk in a VM); measured
// in keel_bench --phases: the batch-32 gather fell from ~35-45 µs to ~22 µs. Best effort: does
// nothing for buffers under 4 MiB, on systems without THP, or when the kernel refuses.
void advise_huge_pages(void* p, size_t bytes);

}  // namespace keel
