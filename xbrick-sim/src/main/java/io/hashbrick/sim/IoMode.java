package io.hashbrick.sim;

/**
 * How an {@link Ssd} reaches its file. Durability when {@code write} returns OK, on Linux:
 *
 * <ul>
 *   <li>{@link #DIRECT} ({@code O_DIRECT}): the data went to the block device, bypassing the page cache.
 *       It survives a process crash. It may still sit in the device's volatile write cache, and for a
 *       sparse region the file system's allocation metadata is not yet committed, so it survives a power
 *       loss only after {@link Ssd#flush()} ({@code fdatasync}: journal commit + device cache flush).
 *   <li>{@link #BUFFERED}: the data is in the kernel page cache. It survives a process crash (the kernel
 *       owns the dirty pages) but not a power loss until {@link Ssd#flush()}.
 * </ul>
 *
 * Either way the rule for callers is the same: what must survive power loss needs {@code flush()}.
 * {@code O_DIRECT} is preferred because it makes the simulator's I/O cost look like a drive's, not like
 * memory, and because it forces the aligned-buffer discipline a real NVMe/SAS path needs.
 */
public enum IoMode {
    DIRECT,
    BUFFERED
}
