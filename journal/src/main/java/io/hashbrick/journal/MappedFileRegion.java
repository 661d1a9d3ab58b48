package io.hashbrick.journal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A region over a memory-mapped file: {@link #persist} is {@code msync(MS_SYNC)} of the pages that
 * hold the range ({@link MemorySegment#force()}; the JDK rounds the range out to whole pages). The
 * reference implementation of {@link JournalRegion}, and what the tests crash by copying the file.
 */
public final class MappedFileRegion implements JournalRegion {
    private final FileChannel channel;
    private final Arena arena;
    private final MemorySegment segment;

    private MappedFileRegion(FileChannel channel, Arena arena, MemorySegment segment) {
        this.channel = channel;
        this.arena = arena;
        this.segment = segment;
    }

    /** Opens {@code file}, creating or extending it to exactly {@code sizeBytes}. */
    public static MappedFileRegion open(Path file, long sizeBytes) throws IOException {
        Checks.argument(
                sizeBytes > 0 && sizeBytes <= RegionLayout.MAX_REGION_BYTES,
                "region size out of range",
                "sizeBytes",
                sizeBytes,
                "max",
                RegionLayout.MAX_REGION_BYTES);
        FileChannel channel =
                FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long existing = channel.size();
            if (existing != sizeBytes && existing != 0) {
                throw new IllegalArgumentException("region file has another size file=" + file + " sizeBytes="
                        + existing + " expected=" + sizeBytes);
            }
            Arena arena = Arena.ofShared();
            MemorySegment segment = channel.map(FileChannel.MapMode.READ_WRITE, 0, sizeBytes, arena);
            return new MappedFileRegion(channel, arena, segment);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    @Override
    public MemorySegment segment() {
        return segment;
    }

    @Override
    public void persist(long offset, long length) {
        if (length > 0) {
            segment.asSlice(offset, length).force(); // one slice object per batch, not per record
        }
    }

    @Override
    public void close() {
        arena.close();
        try {
            channel.close();
        } catch (IOException e) {
            throw new IllegalStateException("region close failed error=" + e.getMessage(), e);
        }
    }
}
