package io.hashbrick.node.catalog;

import java.util.Locale;

/** Sizes as admins write them: bytes, or a number with K, M, G or T (powers of 1024). */
public final class Sizes {
    private Sizes() {}

    /** Parses "4G", "512M", "1048576"; throws IllegalArgumentException naming the bad value. */
    public static long parse(String s) {
        String t = s == null ? "" : s.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
        }
        long mult =
                switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
                    case 'K' -> 1L << 10;
                    case 'M' -> 1L << 20;
                    case 'G' -> 1L << 30;
                    case 'T' -> 1L << 40;
                    default -> 1;
                };
        String num = mult == 1 ? t : t.substring(0, t.length() - 1);
        try {
            long v = Long.parseLong(num);
            if (v < 0 || v > Long.MAX_VALUE / mult) {
                throw new IllegalArgumentException("size out of range: size=" + s);
            }
            return v * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size (bytes, or a number with K/M/G/T): size=" + s);
        }
    }
}
