package io.hashbrick.node.volume;

/** A volume the catalog holds, as C knows it: its id and its size in 4 KiB blocks. */
public record VolumeRef(int id, long blocks) {}
