package io.hashbrick.node.xdp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Exhaustive RDP checks: every single and every pair of failed columns decodes to the original bytes. */
class RdpTest {
    private final long seed = Long.getLong("seed", System.nanoTime());

    @ParameterizedTest(name = "data_columns={0} cell_bytes={1}")
    @CsvSource({"23, 64", "23, 4096", "22, 64", "21, 64", "28, 64", "2, 64", "1, 8"})
    void everySingleAndEveryPairOfFailedColumnsIsRebuilt(int dataColumns, int cellBytes) {
        SplittableRandom rnd = new SplittableRandom(seed + dataColumns * 31L + cellBytes);
        Rdp rdp = new Rdp(dataColumns);
        byte[][][] original = randomStripe(rdp, cellBytes, rnd);
        rdp.encode(original);
        assertTrue(rdp.verify(original), "seed=" + seed + ": encoded stripe verifies");
        int width = dataColumns + 2;
        int cases = 0;
        for (int a = 0; a < width; a++) {
            for (int b = -1; b < width; b++) {
                if (b == a || (b >= 0 && b < a)) {
                    continue;
                }
                byte[][][] stripe = copy(original);
                wipe(stripe[a], rnd);
                if (b >= 0) {
                    wipe(stripe[b], rnd);
                }
                rdp.reconstruct(stripe, a, b);
                for (int c = 0; c < width; c++) {
                    for (int r = 0; r < Rdp.ROWS; r++) {
                        assertArrayEquals(
                                original[c][r],
                                stripe[c][r],
                                "seed=" + seed + " data_columns=" + dataColumns + " failed=" + a + "," + b + ": column "
                                        + c + " row " + r);
                    }
                }
                // Order of the failed pair must not matter.
                if (b >= 0) {
                    byte[][][] swapped = copy(original);
                    wipe(swapped[a], rnd);
                    wipe(swapped[b], rnd);
                    rdp.reconstruct(swapped, b, a);
                    assertTrue(rdp.verify(swapped), "seed=" + seed + " failed=" + b + "," + a + " swapped");
                    assertArrayEquals(original[a], swapped[a], "seed=" + seed + " swapped column " + a);
                    assertArrayEquals(original[b], swapped[b], "seed=" + seed + " swapped column " + b);
                }
                cases++;
            }
        }
        assertEquals(width + width * (width - 1) / 2, cases, "seed=" + seed);
    }

    @Test
    void verifyDetectsOneFlippedBitInAnyCell() {
        SplittableRandom rnd = new SplittableRandom(seed);
        Rdp rdp = new Rdp(23);
        byte[][][] stripe = randomStripe(rdp, 64, rnd);
        rdp.encode(stripe);
        for (int c = 0; c < stripe.length; c++) {
            for (int r = 0; r < Rdp.ROWS; r++) {
                int bit = rnd.nextInt(64 * 8);
                stripe[c][r][bit / 8] ^= (byte) (1 << (bit % 8));
                assertFalse(rdp.verify(stripe), "seed=" + seed + ": flip in column " + c + " row " + r + " bit " + bit);
                stripe[c][r][bit / 8] ^= (byte) (1 << (bit % 8));
                assertTrue(rdp.verify(stripe), "seed=" + seed + ": restored column " + c + " row " + r);
            }
        }
    }

    @Test
    void badArgumentsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Rdp(0), "seed=" + seed);
        assertThrows(IllegalArgumentException.class, () -> new Rdp(29), "seed=" + seed);
        Rdp rdp = new Rdp(23);
        byte[][][] stripe = randomStripe(rdp, 64, new SplittableRandom(seed));
        assertThrows(IllegalArgumentException.class, () -> rdp.reconstruct(stripe, 3, 3), "seed=" + seed);
        assertThrows(IllegalArgumentException.class, () -> rdp.reconstruct(stripe, 25, -1), "seed=" + seed);
        assertThrows(IllegalArgumentException.class, () -> rdp.reconstruct(stripe, -1, 2), "seed=" + seed);
        assertThrows(
                IllegalArgumentException.class,
                () -> rdp.encode(randomStripe(new Rdp(22), 64, new SplittableRandom(seed))),
                "seed=" + seed);
        assertThrows(
                IllegalArgumentException.class,
                () -> rdp.encode(randomStripe(rdp, 12, new SplittableRandom(seed))),
                "seed=" + seed);
    }

    private static byte[][][] randomStripe(Rdp rdp, int cellBytes, SplittableRandom rnd) {
        byte[][][] stripe = new byte[rdp.dataColumns() + 2][Rdp.ROWS][cellBytes];
        for (int c = 0; c < rdp.dataColumns(); c++) {
            for (byte[] cell : stripe[c]) {
                rnd.nextBytes(cell);
            }
        }
        return stripe;
    }

    private static void wipe(byte[][] column, SplittableRandom rnd) {
        for (byte[] cell : column) {
            rnd.nextBytes(cell);
        }
    }

    private static byte[][][] copy(byte[][][] stripe) {
        byte[][][] out = new byte[stripe.length][][];
        for (int c = 0; c < stripe.length; c++) {
            out[c] = new byte[stripe[c].length][];
            for (int r = 0; r < stripe[c].length; r++) {
                out[c][r] = stripe[c][r].clone();
            }
        }
        return out;
    }
}
