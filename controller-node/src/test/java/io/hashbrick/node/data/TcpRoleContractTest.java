package io.hashbrick.node.data;

import io.hashbrick.node.Controller;
import io.hashbrick.node.api.DataService;
import io.hashbrick.node.api.MapService;
import io.hashbrick.node.api.local.LocalDataService;
import io.hashbrick.node.api.local.LocalMapService;
import io.hashbrick.node.api.tcp.TcpRoleClient;
import io.hashbrick.node.api.tcp.TcpRoleServer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;

/**
 * {@link RoleContractTest} over the TCP binding: the tests' D and C calls go through a
 * {@link TcpRoleClient} and a {@link TcpRoleServer} on 127.0.0.1 (real sockets) to the in-process
 * binding over the test's data path, so every request and reply field crosses the wire.
 */
class TcpRoleContractTest extends RoleContractTest {
    private final List<AutoCloseable> open = new ArrayList<>();
    private Controller served;
    private TcpRoleClient client;

    private TcpRoleClient client(Controller dp) throws Exception {
        if (served != dp) {
            TcpRoleServer server =
                    new TcpRoleServer(new LocalDataService(dp.data(), 0), new LocalMapService(dp.maps(), 0), 0);
            open.add(server);
            client = new TcpRoleClient("127.0.0.1", server.port(), 5_000);
            open.add(client);
            served = dp;
        }
        return client;
    }

    @Override
    DataService dataService(Controller dp) throws Exception {
        return client(dp).data();
    }

    @Override
    MapService mapService(Controller dp) throws Exception {
        return client(dp).maps();
    }

    @AfterEach
    void closeBindings() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) { // clients before their servers
            open.get(i).close();
        }
    }
}
