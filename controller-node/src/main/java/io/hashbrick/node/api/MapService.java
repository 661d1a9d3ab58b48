package io.hashbrick.node.api;

/**
 * The C role, owner of (volume, 1 GiB region) partitions of the address space (DESIGN.md "Write path"
 * step 3, "Read path"). Every call completes exactly once through its {@link Completion}.
 */
public interface MapService {
    void map(MapCall call, Completion<? super MapCall> done);

    void resolve(ResolveCall call, Completion<? super ResolveCall> done);

    /** Unmaps a run, or with {@link UnmapCall#countRun} measures the provisioning run at a block. */
    void unmap(UnmapCall call, Completion<? super UnmapCall> done);
}
