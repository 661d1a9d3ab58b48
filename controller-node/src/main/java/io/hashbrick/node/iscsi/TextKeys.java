package io.hashbrick.node.iscsi;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The text format of Login and Text PDUs (RFC 7143 §6): {@code key=value} pairs, each ended by a
 * NUL byte, keys of at most 63 bytes, values of at most 255 bytes (8192 for the binary CHAP values).
 * Parsing runs only during login and text exchanges, never per I/O.
 */
final class TextKeys {
    static final int MAX_KEY_BYTES = 63;
    static final int MAX_VALUE_BYTES = 8192;
    /** A text exchange larger than this across continuations is refused (bounded memory). */
    static final int MAX_TEXT_BYTES = 65536;

    private TextKeys() {}

    /**
     * Parses a data segment into an ordered map. Returns null if the text is malformed (no '=',
     * oversized key or value, a key given twice); the caller answers with the error the phase names.
     */
    static Map<String, String> parse(byte[] data, int length) {
        Map<String, String> keys = new LinkedHashMap<>();
        int start = 0;
        for (int i = 0; i <= length; i++) {
            if (i < length && data[i] != 0) {
                continue;
            }
            if (i > start) {
                String pair = new String(data, start, i - start, StandardCharsets.UTF_8);
                int eq = pair.indexOf('=');
                if (eq <= 0 || eq > MAX_KEY_BYTES || pair.length() - eq - 1 > MAX_VALUE_BYTES) {
                    return null;
                }
                if (keys.putIfAbsent(pair.substring(0, eq), pair.substring(eq + 1)) != null) {
                    return null;
                }
            }
            start = i + 1;
        }
        return keys;
    }

    /** Encodes pairs as key=value\0 ... */
    static byte[] encode(Map<String, String> keys) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : keys.entrySet()) {
            sb.append(e.getKey()).append('=').append(e.getValue()).append('\0');
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }
}
