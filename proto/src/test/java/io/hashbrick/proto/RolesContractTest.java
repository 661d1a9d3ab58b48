package io.hashbrick.proto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import io.hashbrick.proto.roles.v1.MapReply;
import io.hashbrick.proto.roles.v1.MapRequest;
import io.hashbrick.proto.roles.v1.PutBlock;
import io.hashbrick.proto.roles.v1.PutReply;
import io.hashbrick.proto.roles.v1.PutRequest;
import io.hashbrick.proto.roles.v1.RequestHeader;
import io.hashbrick.proto.roles.v1.Status;
import org.junit.jupiter.api.Test;

/** The generated contracts encode and decode what the roles exchange (codegen ran, field numbers hold). */
class RolesContractTest {
    private static final RequestHeader HEADER = RequestHeader.newBuilder()
            .setEpoch(7)
            .setOperationId(42)
            .setSender(1)
            .build();

    @Test
    void aPutRoundTripsWithItsBlocksAndHeader() throws Exception {
        byte[] fp = new byte[32];
        fp[0] = (byte) 0xAB;
        PutRequest put = PutRequest.newBuilder()
                .setHeader(HEADER)
                .addBlocks(PutBlock.newBuilder().setFingerprint(ByteString.copyFrom(fp)))
                .addBlocks(PutBlock.newBuilder()
                        .setFingerprint(ByteString.copyFrom(fp))
                        .setData(ByteString.copyFrom(new byte[] {1, 2, 3})))
                .build();
        PutRequest back = PutRequest.parseFrom(put.toByteArray());
        assertEquals(7, back.getHeader().getEpoch());
        assertEquals(42, back.getHeader().getOperationId());
        assertEquals(2, back.getBlocksCount());
        assertArrayEquals(fp, back.getBlocks(0).getFingerprint().toByteArray());
        assertEquals(0, back.getBlocks(0).getData().size());
        assertEquals(3, back.getBlocks(1).getData().size());
    }

    @Test
    void repliesCarryStatusAndHandles() throws Exception {
        PutReply reply = PutReply.newBuilder()
                .setStatus(Status.NEED_DATA)
                .addBlockStatus(Status.OK)
                .addBlockStatus(Status.NEED_DATA)
                .build();
        PutReply back = PutReply.parseFrom(reply.toByteArray());
        assertEquals(Status.NEED_DATA, back.getStatus());
        assertEquals(Status.NEED_DATA, back.getBlockStatus(1));

        MapRequest map = MapRequest.newBuilder()
                .setHeader(HEADER)
                .setVolume(3)
                .setFirstBlock(1L << 33)
                .addHandles(0x01_123_000000001L)
                .addHandles(-1L)
                .build();
        MapRequest m = MapRequest.parseFrom(map.toByteArray());
        assertEquals(1L << 33, m.getFirstBlock());
        assertEquals(-1L, m.getHandles(1));
        MapReply r = MapReply.parseFrom(
                MapReply.newBuilder().setStatus(Status.STALE_EPOCH).build().toByteArray());
        assertEquals(Status.STALE_EPOCH, r.getStatus());
    }
}
