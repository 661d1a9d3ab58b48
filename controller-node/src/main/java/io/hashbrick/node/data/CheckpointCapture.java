package io.hashbrick.node.data;

import io.hashbrick.node.CheckpointParticipant;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * A checkpoint's sections captured in memory under the data path's lock (D's, then C's under C's
 * lock), and written to the metadata area after it: the lock is no longer held across the metadata
 * area's writes and flushes (issue 16 item 4), so a checkpoint stops host writes only for the time
 * the capture copies the state. The price is a copy of the sections in memory while it is written
 * (the full checkpoint's size; incremental checkpoints, issue 16 step e, shrink both).
 */
final class CheckpointCapture implements CheckpointParticipant.Sections {
    final long generation;
    final long sequence;
    /** D's changes the capture covers (the count goes down by this much once it is durable). */
    final long changes;

    long uniqueBlocks;
    long pendingBlocks;

    /** Sections are kept in chunks of at most this size, whatever sizes their writers write in. */
    private static final int CHUNK_BYTES = 1 << 20;

    private final List<Section> sections = new ArrayList<>();
    private Section open;

    private static final class Section {
        final int kind;
        final int id;
        final List<byte[]> chunks = new ArrayList<>();
        int lastUsed;
        long bytes;

        Section(int kind, int id) {
            this.kind = kind;
            this.id = id;
        }
    }

    /** Full-size chunks of earlier captures, reused (a capture under the lock allocates only what it grows by). */
    private final java.util.ArrayDeque<byte[]> spare;

    /** A base (every page) or a delta (what changed since the checkpoint before). */
    final boolean base;

    CheckpointCapture(long generation, long sequence, long changes, java.util.ArrayDeque<byte[]> spare, boolean base) {
        this.base = base;
        this.generation = generation;
        this.sequence = sequence;
        this.changes = changes;
        this.spare = spare;
    }

    /** Opens a section (closing the one before, if still open): what the channel takes belongs to it. */
    @Override
    public WritableByteChannel section(int kind, int id) {
        Section s = new Section(kind, id);
        sections.add(s);
        open = s;
        return new WritableByteChannel() {
            @Override
            public int write(ByteBuffer src) {
                if (open != s) {
                    throw new IllegalStateException("section closed: kind=" + kind + " id=" + id);
                }
                int n = src.remaining();
                while (src.hasRemaining()) {
                    if (s.chunks.isEmpty() || s.lastUsed == s.chunks.get(s.chunks.size() - 1).length) {
                        // grows with the section: small sections stay small, large ones take 1 MiB chunks
                        int size = (int) Math.min(CHUNK_BYTES, Math.max(16 << 10, s.bytes));
                        s.chunks.add(size == CHUNK_BYTES && !spare.isEmpty() ? spare.pop() : new byte[size]);
                        s.lastUsed = 0;
                    }
                    byte[] last = s.chunks.get(s.chunks.size() - 1);
                    int k = Math.min(src.remaining(), last.length - s.lastUsed);
                    src.get(last, s.lastUsed, k);
                    s.lastUsed += k;
                    s.bytes += k;
                }
                return n;
            }

            @Override
            public boolean isOpen() {
                return open == s;
            }

            @Override
            public void close() {}
        };
    }

    @Override
    public boolean base() {
        return base;
    }

    @Override
    public void endSection() {
        open = null;
    }

    int sectionCount() {
        return sections.size();
    }

    long bytes() {
        long n = 0;
        for (Section s : sections) {
            n += s.bytes;
        }
        return n;
    }

    /** Writes every section, in capture order, to the metadata area's writer (no lock held). */
    void writeTo(MetadataArea.Writer w) throws IOException {
        open = null;
        for (Section s : sections) {
            WritableByteChannel ch = w.section(s.kind, s.id);
            for (int i = 0; i < s.chunks.size(); i++) {
                byte[] chunk = s.chunks.get(i);
                ByteBuffer b = ByteBuffer.wrap(chunk, 0, i == s.chunks.size() - 1 ? s.lastUsed : chunk.length);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
            w.endSection();
        }
    }

    /** After {@link #writeTo}: the full-size chunks go back for the next capture. */
    void recycle() {
        for (Section s : sections) {
            for (byte[] chunk : s.chunks) {
                if (chunk.length == CHUNK_BYTES) {
                    spare.push(chunk);
                }
            }
            s.chunks.clear();
        }
    }
}
