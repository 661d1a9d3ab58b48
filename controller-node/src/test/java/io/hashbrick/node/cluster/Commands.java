package io.hashbrick.node.cluster;

import io.hashbrick.proto.cluster.v1.AddMember;
import io.hashbrick.proto.cluster.v1.ChapSecret;
import io.hashbrick.proto.cluster.v1.Command;
import io.hashbrick.proto.cluster.v1.CreateVolume;
import io.hashbrick.proto.cluster.v1.Failover;
import io.hashbrick.proto.cluster.v1.InitiatorGroup;
import io.hashbrick.proto.cluster.v1.LunMap;
import io.hashbrick.proto.cluster.v1.MapLun;
import io.hashbrick.proto.cluster.v1.Member;
import io.hashbrick.proto.cluster.v1.PutChapSecret;
import io.hashbrick.proto.cluster.v1.PutInitiatorGroup;
import io.hashbrick.proto.cluster.v1.RegisterClient;
import io.hashbrick.proto.cluster.v1.SetAssignment;
import io.hashbrick.routing.placement.Placement;

/** Command builders for the cluster tests (kinds only: ids are set by the caller or the client). */
final class Commands {
    private Commands() {}

    static Command register() {
        return Command.newBuilder()
                .setRegisterClient(RegisterClient.getDefaultInstance())
                .build();
    }

    static Command.Builder addMember(long epoch, int id, int brick) {
        return Command.newBuilder()
                .setAddMember(AddMember.newBuilder()
                        .setExpectedEpoch(epoch)
                        .setMember(Member.newBuilder()
                                .setId(id)
                                .setBrick(brick)
                                .setAddress("127.0.0.1:" + (7000 + id))
                                .setPortal("127.0.0.1:" + (3260 + id - 1))));
    }

    /** Buckets and {@code partitions} region partitions dealt round-robin to {@code owners}. */
    static Command.Builder assign(long epoch, int partitions, int... owners) {
        SetAssignment.Builder a = SetAssignment.newBuilder().setExpectedEpoch(epoch);
        for (int b = 0; b < Placement.BUCKETS; b++) {
            a.addBuckets(owners[b % owners.length]);
        }
        for (int p = 0; p < partitions; p++) {
            a.addRegionPartitions(owners[p % owners.length]);
        }
        return Command.newBuilder().setSetAssignment(a);
    }

    static Command.Builder failover(long epoch, int dead, int to) {
        return Command.newBuilder()
                .setFailover(Failover.newBuilder()
                        .setExpectedEpoch(epoch)
                        .setDead(dead)
                        .setTo(to));
    }

    static Command.Builder servePool(long epoch, int pool, int by, String address) {
        return Command.newBuilder()
                .setServePool(io.hashbrick.proto.cluster.v1.ServePool.newBuilder()
                        .setExpectedEpoch(epoch)
                        .setPool(pool)
                        .setBy(by)
                        .setAddress(address));
    }

    static Command.Builder returnPool(int pool) {
        return Command.newBuilder()
                .setReturnPool(
                        io.hashbrick.proto.cluster.v1.ReturnPool.newBuilder().setPool(pool));
    }

    static Command.Builder createVolume(String name, long sizeBytes) {
        return Command.newBuilder()
                .setCreateVolume(CreateVolume.newBuilder()
                        .setName(name)
                        .setSizeBytes(sizeBytes)
                        .setBlockSize(512));
    }

    static Command.Builder group(String name, String... initiators) {
        return Command.newBuilder()
                .setPutInitiatorGroup(PutInitiatorGroup.newBuilder()
                        .setGroup(InitiatorGroup.newBuilder()
                                .setName(name)
                                .addAllInitiators(java.util.List.of(initiators))));
    }

    static Command.Builder mapLun(String group, int lun, long volume) {
        return Command.newBuilder()
                .setMapLun(MapLun.newBuilder()
                        .setMap(LunMap.newBuilder()
                                .setInitiatorGroup(group)
                                .setLun(lun)
                                .setVolumeId(volume)));
    }

    static Command.Builder chap(String initiator, String user, String secret) {
        return Command.newBuilder()
                .setPutChapSecret(PutChapSecret.newBuilder()
                        .setSecret(ChapSecret.newBuilder()
                                .setInitiator(initiator)
                                .setUser(user)
                                .setSecret(secret)));
    }
}
