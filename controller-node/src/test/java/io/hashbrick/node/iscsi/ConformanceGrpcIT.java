package io.hashbrick.node.iscsi;

import org.junit.jupiter.api.Tag;

/**
 * libiscsi's conformance suite with the front end reaching D and C over the gRPC binding: every
 * resolve, fetch, probe, put, map and unmap of every SCSI command crosses a TCP connection on
 * 127.0.0.1, so the suite checks the binding's encoding of every call the front end makes.
 */
@Tag("slow")
class ConformanceGrpcIT extends ConformanceIT {
    @Override
    String roleTransport() {
        return "grpc";
    }
}
