// A tiny launcher that runs one Elasticsearch 7.17 node inside this JVM, from the Maven Central
// jars (no distribution tarball). Compiled by scripts/services/elasticsearch.sh with javac.
//
// System properties (set by elasticsearch.sh):
//   herald.es.home            ES home: config/, data/, logs/, modules/, plugins/ are made here
//   herald.es.http.port       HTTP port (default 9200)
//   herald.es.transport.port  transport port (default 9300)
//
// Why a Node subclass: the public Node(Environment) constructor only loads plugins from the
// plugins/ and modules/ folders (a distribution's layout, which we do not have). The protected
// constructor takes plugin classes from the classpath, like ES's own test framework does.
// Starting a Node directly also skips Bootstrap: no root check and no bootstrap checks
// (vm.max_map_count etc.), which a throw-away test node on a shared machine does not need.

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.mapper.MapperExtrasPlugin;
import org.elasticsearch.join.ParentJoinPlugin;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.reindex.ReindexPlugin;
import org.elasticsearch.search.aggregations.matrix.MatrixAggregationPlugin;
import org.elasticsearch.transport.Netty4Plugin;

public final class HeraldElasticsearch {
    private static final String NODE_NAME = "herald-services";

    /** Exposes Node's protected constructor that takes classpath plugins. */
    private static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            // true = forbidPrivateIndexSettings, as in production.
            super(env, plugins, true);
        }
    }

    // Console-only logging: stdout is redirected by the script to .services/logs/elasticsearch.log.
    private static final String LOG4J2 = String.join("\n",
        "status = error",
        "appender.console.type = Console",
        "appender.console.name = console",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %marker%m%n",
        "rootLogger.level = info",
        "rootLogger.appenderRef.console.ref = console",
        "");

    public static void main(String[] args) {
        try {
            run();
        } catch (Throwable t) {
            // Any start-up failure (port in use, bad setting, ...) must end the JVM at once, even
            // if ES already started non-daemon threads: up.sh then shows the log and fails fast.
            t.printStackTrace();
            System.exit(1);
        }
    }

    private static void run() throws Exception {
        Path home = Paths.get(required("herald.es.home")).toAbsolutePath();
        for (String dir : List.of("config", "data", "logs", "modules", "plugins")) {
            Files.createDirectories(home.resolve(dir));
        }
        Path config = home.resolve("config");
        Files.write(config.resolve("log4j2.properties"), LOG4J2.getBytes(StandardCharsets.UTF_8));

        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "herald-services")
            .put("node.name", NODE_NAME)
            .put("network.host", "127.0.0.1")
            .put("http.port", System.getProperty("herald.es.http.port", "9200"))
            .put("transport.port", System.getProperty("herald.es.transport.port", "9300"))
            // One node, no discovery of peers, elects itself master at once.
            .put("discovery.type", "single-node")
            // Netty4Plugin is the only transport we load; name it explicitly.
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            // A full shared disk must not make the node refuse writes (read-only indices).
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            // No xpack.* keys: x-pack is not on the classpath, so they would be unknown settings.
            .build();

        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), config, () -> NODE_NAME);
        LogConfigurator.setNodeName(NODE_NAME);
        LogConfigurator.configure(env);

        Node node = new EmbeddedNode(env, List.of(
            Netty4Plugin.class,            // HTTP and transport
            ReindexPlugin.class,           // _reindex, _delete_by_query, _update_by_query
            MapperExtrasPlugin.class,      // scaled_float, rank_feature, search_as_you_type, ...
            ParentJoinPlugin.class,        // join field
            MatrixAggregationPlugin.class  // matrix_stats
        ));
        node.start();

        // SIGTERM (down.sh) -> close the node cleanly (flush, release the data dir lock).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (IOException e) {
                e.printStackTrace();
            }
        }, "herald-es-shutdown"));

        // ES's own threads are daemon threads: keep the JVM alive until it is signalled.
        CountDownLatch forever = new CountDownLatch(1);
        Thread keepAlive = new Thread(() -> {
            try {
                forever.await();
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "herald-es-keepalive");
        keepAlive.setDaemon(false);
        keepAlive.start();
    }

    private static String required(String name) {
        String value = System.getProperty(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException("missing -D" + name);
        }
        return value;
    }
}
