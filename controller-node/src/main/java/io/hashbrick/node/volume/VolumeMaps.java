package io.hashbrick.node.volume;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The A2H map of each volume, by volume id: an array indexed by id (ids are small and never reused:
 * the catalog hands them out in order), so the I/O path looks a volume up without boxing its id, and
 * every walk (checkpoint sections, audit, stats) goes in id order, the same on every run.
 */
final class VolumeMaps {
    /** Ids above this are refused: the array would be too large for what it holds. */
    static final int MAX_ID = 1 << 24;

    private A2hMap[] byId = new A2hMap[16];
    private int size;

    A2hMap get(int id) {
        return id >= 0 && id < byId.length ? byId[id] : null;
    }

    boolean containsKey(int id) {
        return get(id) != null;
    }

    void put(int id, A2hMap map) {
        if (id < 0 || id >= MAX_ID) {
            throw new IllegalArgumentException("volume id out of range: id=" + id + " max=" + (MAX_ID - 1));
        }
        if (id >= byId.length) {
            byId = Arrays.copyOf(byId, Math.max(id + 1, byId.length * 2));
        }
        if (byId[id] == null) {
            size++;
        }
        byId[id] = map;
    }

    A2hMap remove(int id) {
        A2hMap m = get(id);
        if (m != null) {
            byId[id] = null;
            size--;
        }
        return m;
    }

    int size() {
        return size;
    }

    /** The volume ids, ascending (a copy: the caller may change the maps while walking it). */
    List<Integer> ids() {
        List<Integer> ids = new ArrayList<>(size);
        for (int id = 0; id < byId.length; id++) {
            if (byId[id] != null) {
                ids.add(id);
            }
        }
        return ids;
    }

    /** The maps in id order. */
    List<A2hMap> values() {
        List<A2hMap> maps = new ArrayList<>(size);
        for (A2hMap m : byId) {
            if (m != null) {
                maps.add(m);
            }
        }
        return maps;
    }
}
