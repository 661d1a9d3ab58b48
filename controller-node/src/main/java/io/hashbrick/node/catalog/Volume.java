package io.hashbrick.node.catalog;

/**
 * One volume as the catalog records it.
 *
 * @param file the backing file's name in the data directory ({@code file} backend), else empty
 * @param id the volume's number in the data path's journal and checkpoints; never reused
 * @param backend {@code ca} (content-addressed data path) or {@code file} (a sparse file)
 */
public record Volume(String name, int lun, long sizeBytes, int blockSize, String file, int id, String backend) {
    public static final String CA = "ca";
    public static final String FILE = "file";

    /** A file-backed volume (catalog version 1 knew no other kind). */
    public Volume(String name, int lun, long sizeBytes, int blockSize, String file) {
        this(name, lun, sizeBytes, blockSize, file, 0, FILE);
    }

    public boolean contentAddressed() {
        return CA.equals(backend);
    }
}
