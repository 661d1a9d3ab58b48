package io.hashbrick.node.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The volume catalog on disk, {@code volumes.json} in the data directory, written atomically
 * (temporary file, fsync, rename, fsync of the directory). Like every on-disk format here it carries a
 * magic ({@code format}), a version and a checksum: CRC32C of the compact JSON of the volume list.
 * <pre>
 *  {"format":"hashbrick-volume-catalog","version":1,
 *   "volumes":[{"name":"lun0","lun":0,"size_bytes":4294967296,"block_size":512,"file":"lun0.img"}],
 *   "crc32c":"1a2b3c4d"}
 * </pre>
 * A catalog that fails its checks stops the node with the reason: volumes are never dropped silently.
 */
final class VolumeCatalog {
    static final String FORMAT = "hashbrick-volume-catalog";
    static final int VERSION = 2;
    static final String FILE = "volumes.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private VolumeCatalog() {}

    /** Volume ids are never reused (a deleted volume's journal records may still be replayed). */
    static int nextId(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.exists(file)) {
            return 1;
        }
        int next = JSON.readTree(file.toFile()).path("next_id").asInt(1);
        for (Volume v : load(dir)) {
            next = Math.max(next, v.id() + 1);
        }
        return next;
    }

    static List<Volume> load(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        List<Volume> volumes = new ArrayList<>();
        if (!Files.exists(file)) {
            return volumes;
        }
        JsonNode root = JSON.readTree(file.toFile());
        int version = root.path("version").asInt(-1);
        if (!FORMAT.equals(root.path("format").asText()) || version < 1 || version > VERSION) {
            throw new IOException("not a version " + VERSION + " volume catalog: file=" + file + " format="
                    + root.path("format").asText() + " version="
                    + root.path("version").asText());
        }
        JsonNode list = root.path("volumes");
        String want = crc(list);
        if (!want.equals(root.path("crc32c").asText())) {
            throw new IOException("volume catalog checksum mismatch: file=" + file + " stored="
                    + root.path("crc32c").asText() + " computed=" + want);
        }
        for (JsonNode v : list) {
            volumes.add(new Volume(
                    v.path("name").asText(),
                    v.path("lun").asInt(),
                    v.path("size_bytes").asLong(),
                    v.path("block_size").asInt(),
                    v.path("file").asText(),
                    v.path("id").asInt(0),
                    version == 1 ? Volume.FILE : v.path("backend").asText(Volume.FILE)));
        }
        return volumes;
    }

    static void store(Path dir, List<Volume> volumes, int nextId) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("version", VERSION);
        root.put("next_id", nextId);
        ArrayNode list = root.putArray("volumes");
        for (Volume v : volumes) {
            list.addObject()
                    .put("name", v.name())
                    .put("lun", v.lun())
                    .put("size_bytes", v.sizeBytes())
                    .put("block_size", v.blockSize())
                    .put("file", v.file())
                    .put("id", v.id())
                    .put("backend", v.backend());
        }
        root.put("crc32c", crc(list));
        Path tmp = dir.resolve(FILE + ".tmp");
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(java.nio.ByteBuffer.wrap(bytes));
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true); // the rename itself is durable
        }
    }

    private static String crc(JsonNode list) throws IOException {
        CRC32C c = new CRC32C();
        c.update(JSON.writeValueAsString(list).getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().toHexDigits((int) c.getValue());
    }
}
