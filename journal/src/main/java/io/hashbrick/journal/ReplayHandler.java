package io.hashbrick.journal;

import java.lang.foreign.MemorySegment;

/**
 * Receives each valid record during replay, in sequence order, on the opening thread. The payload is
 * {@code region[payloadOffset, payloadOffset + payloadLength)}; it stays valid until the record is
 * released, so a handler may keep the offset (D serves reads of not-yet-destaged blocks from there).
 */
@FunctionalInterface
public interface ReplayHandler {
    void onRecord(byte type, long sequence, long epoch, MemorySegment region, long payloadOffset, int payloadLength);

    ReplayHandler NONE = (type, sequence, epoch, region, payloadOffset, payloadLength) -> {};
}
