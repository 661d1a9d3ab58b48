package io.hashbrick.node.mgmt;

import io.hashbrick.node.catalog.Volume;
import io.hashbrick.node.catalog.VolumeException;
import java.io.IOException;

/**
 * Where the management API sends volume changes when they are not this controller's alone: in cluster
 * mode, the cluster's catalog (Raft), which answers once the change is committed and applied here.
 * Without one, the API changes the controller's {@code VolumeService} directly.
 */
public interface VolumeCommands {
    Volume create(String name, long sizeBytes, int blockSize) throws VolumeException, IOException;

    Volume resize(String name, long sizeBytes) throws VolumeException, IOException;

    void delete(String name) throws VolumeException, IOException;
}
