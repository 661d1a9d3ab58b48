package io.hashbrick.node.volume;

/**
 * A volume as the catalog records it: the name an admin gave it, the LUN it is mapped at on the
 * target, its size and logical block size, and its backing file in the data directory.
 */
public record Volume(String name, int lun, long sizeBytes, int blockSize, String file) {}
