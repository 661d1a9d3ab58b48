package io.hashbrick.node.cluster;

import io.hashbrick.node.Log;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;

/**
 * A voter's lease endpoint: answers {@link LeaseWire} datagrams on the voter's Raft port number (UDP)
 * from its {@link LeaseTable}: RENEWED or ANSWER while it leads, NOT_LEADER otherwise. One thread, no
 * allocation per datagram beyond the answer's record; malformed datagrams are dropped and counted (a
 * log line at most every 10 s).
 */
final class LeaseServer implements AutoCloseable {
    private final String voter;
    private final LeaseTable leases;
    private final long leaseMs;
    private final DatagramChannel channel;
    private final Thread thread;
    /** The judge's own clock ({@link LeaseTable#tick}): ticks every 20 ms while the endpoint is open. */
    private final Thread clock;

    private volatile boolean closed;
    private long dropped;
    private long droppedLoggedNs;

    LeaseServer(String voter, InetSocketAddress address, LeaseTable leases) throws IOException {
        this.voter = voter;
        this.leases = leases;
        this.leaseMs = leases.leaseMs();
        this.channel = DatagramChannel.open();
        try {
            channel.bind(address);
        } catch (IOException e) {
            channel.close();
            throw new IOException("lease endpoint: cannot bind udp " + address + ": " + e.getMessage(), e);
        }
        this.thread = Thread.ofPlatform().daemon().name("lease-server-" + voter).start(this::serve);
        this.clock = Thread.ofPlatform().daemon().name("lease-clock-" + voter).start(this::tick);
        Log.info("lease_server_started", "voter=" + voter + " udp=" + address + " lease_ms=" + leaseMs);
    }

    private void tick() {
        while (!closed) {
            leases.tick(System.nanoTime());
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void serve() {
        ByteBuffer in = ByteBuffer.allocate(64);
        ByteBuffer out = ByteBuffer.allocate(LeaseWire.REPLY_BYTES);
        while (!closed) {
            SocketAddress from;
            try {
                in.clear();
                from = channel.receive(in);
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    Log.warn("lease_server_receive_failed", "voter=" + voter + " error=" + Log.q(e.toString()));
                }
                continue;
            }
            in.flip();
            try {
                answer(in, out, from);
            } catch (RuntimeException e) { // never the end of the endpoint: without it nobody holds a lease
                Log.error("lease_server_failed", "voter=" + voter + " from=" + from + " error=" + Log.q(e.toString()));
            }
        }
    }

    private void answer(ByteBuffer in, ByteBuffer out, SocketAddress from) {
        LeaseWire.Request q = LeaseWire.parseRequest(in);
        if (q == null) {
            drop(from);
            return;
        }
        long now = System.nanoTime();
        LeaseWire.Reply r;
        if (q.type() == LeaseWire.RENEW) {
            long silentMs = leases.renew(q.member(), now);
            if (silentMs >= 0 && silentMs * 2 >= leaseMs) {
                Log.warn(
                        "lease_renewal_late",
                        "leader=" + voter + " member=c" + q.member() + " silent_ms=" + silentMs + " lease_ms="
                                + leaseMs);
            }
            r = new LeaseWire.Reply(
                    silentMs < 0 ? LeaseWire.NOT_LEADER : LeaseWire.RENEWED,
                    q.member(),
                    q.seq(),
                    false,
                    leaseMs,
                    Math.max(0, silentMs),
                    0,
                    voter);
        } else {
            io.hashbrick.proto.cluster.v1.Lease l = leases.judge(q.member(), voter, now);
            r = l == null
                    ? new LeaseWire.Reply(LeaseWire.NOT_LEADER, q.member(), q.seq(), false, leaseMs, 0, 0, voter)
                    : new LeaseWire.Reply(
                            LeaseWire.ANSWER,
                            q.member(),
                            q.seq(),
                            l.getExpired(),
                            l.getLeaseMs(),
                            l.getSilentMs(),
                            l.getLeaderForMs(),
                            voter);
        }
        LeaseWire.reply(out, r);
        try {
            channel.send(out, from);
        } catch (IOException e) {
            if (!closed) {
                Log.debug("lease_server_send_failed", "voter=" + voter + " to=" + from + " error=" + Log.q(e));
            }
        }
    }

    private void drop(SocketAddress from) {
        dropped++;
        long now = System.nanoTime();
        if (droppedLoggedNs == 0 || now - droppedLoggedNs > 10_000_000_000L) {
            droppedLoggedNs = now;
            Log.warn(
                    "lease_datagram_dropped",
                    "voter=" + voter + " from=" + from + " reason=malformed dropped=" + dropped);
        }
    }

    @Override
    public void close() {
        closed = true;
        clock.interrupt();
        try {
            channel.close();
        } catch (IOException e) {
            // closing
        }
        try {
            thread.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
