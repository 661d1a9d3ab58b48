package io.hashbrick.node.block;

/** A device whose volume can grow while it is served (the catalog and the map already know the new size). */
public interface GrowableDevice extends BlockDevice {
    void grow(long sizeBytes);
}
