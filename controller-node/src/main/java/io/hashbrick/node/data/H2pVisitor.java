package io.hashbrick.node.data;

/** Receives the live entries of an H2P bucket, primitives only (no object per entry). */
@FunctionalInterface
public interface H2pVisitor {
    void entry(long handle, long location, int length, int flags, long refcount);
}
