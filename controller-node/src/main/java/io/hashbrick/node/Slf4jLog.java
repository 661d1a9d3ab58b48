package io.hashbrick.node;

import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.helpers.NOPMDCAdapter;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * Binds SLF4J (what Apache Ratis logs through) to the node's {@link Log}: one line per event,
 * {@code event=library logger=<class> msg="..."}, a throwable as {@code error="Type: message"} of its
 * root cause on the same line, no stack trace. Libraries log expected conditions at WARN and ERROR (Ratis
 * reports every NotLeaderException a client meets while a leader is elected at ERROR, with its trace),
 * so traces print only when asked: {@code -Dhashbrick.library.log=debug}.
 *
 * <p>A message that repeats (a follower that is down is retried every few milliseconds) prints at
 * most once a second per logger and pattern; the next line printed says how many were suppressed.
 * Level: WARN unless {@code -Dhashbrick.library.log=error|info|debug}, read once at start-up. Found by
 * SLF4J through {@code META-INF/services}.
 */
public final class Slf4jLog implements SLF4JServiceProvider {
    /** Distinct (logger, pattern) pairs tracked for repeats; past this the table starts over. */
    static final int MAX_PATTERNS = 4096;

    static final long REPEAT_WINDOW_NS = 1_000_000_000L;

    private final IMarkerFactory markers = new BasicMarkerFactory();
    private final MDCAdapter mdc = new NOPMDCAdapter();
    private final Factory factory = new Factory();

    @Override
    public ILoggerFactory getLoggerFactory() {
        return factory;
    }

    @Override
    public IMarkerFactory getMarkerFactory() {
        return markers;
    }

    @Override
    public MDCAdapter getMDCAdapter() {
        return mdc;
    }

    @Override
    public String getRequestedApiVersion() {
        return "2.0.99";
    }

    @Override
    public void initialize() {
        String level = System.getProperty("hashbrick.library.log", "warn").toUpperCase(Locale.ROOT);
        try {
            factory.threshold = Level.valueOf(level);
        } catch (IllegalArgumentException e) {
            Log.warn("library_log_level_unknown", "hashbrick.library.log=" + Log.q(level) + " used=WARN");
        }
    }

    private static final class Factory implements ILoggerFactory {
        private final ConcurrentHashMap<String, Logger> loggers = new ConcurrentHashMap<>();
        /** (logger, pattern) -> {window start ns, lines suppressed in it}; guarded by its own monitor. */
        private final ConcurrentHashMap<String, long[]> repeats = new ConcurrentHashMap<>();

        volatile Level threshold = Level.WARN;

        @Override
        public Logger getLogger(String name) {
            return loggers.computeIfAbsent(name, n -> new LineLogger(n, this));
        }

        /** @return -1 to suppress this line, else how many were suppressed before it */
        long admit(String key) {
            if (repeats.size() > MAX_PATTERNS) {
                repeats.clear();
            }
            long[] window = repeats.computeIfAbsent(key, k -> new long[] {Long.MIN_VALUE, 0});
            long now = System.nanoTime();
            synchronized (window) {
                if (window[0] != Long.MIN_VALUE && now - window[0] < REPEAT_WINDOW_NS) {
                    window[1]++;
                    return -1;
                }
                long suppressed = window[1];
                window[0] = now;
                window[1] = 0;
                return suppressed;
            }
        }
    }

    private static final class LineLogger extends LegacyAbstractLogger {
        private static final long serialVersionUID = 1L;
        private final transient Factory factory;
        private final String shortName;

        LineLogger(String name, Factory factory) {
            this.name = name;
            this.factory = factory;
            this.shortName = name.substring(name.lastIndexOf('.') + 1);
        }

        private boolean on(Level level) {
            return level.toInt() >= factory.threshold.toInt();
        }

        @Override
        public boolean isTraceEnabled() {
            return on(Level.TRACE);
        }

        @Override
        public boolean isDebugEnabled() {
            return on(Level.DEBUG);
        }

        @Override
        public boolean isInfoEnabled() {
            return on(Level.INFO);
        }

        @Override
        public boolean isWarnEnabled() {
            return on(Level.WARN);
        }

        @Override
        public boolean isErrorEnabled() {
            return on(Level.ERROR);
        }

        @Override
        protected String getFullyQualifiedCallerName() {
            return null;
        }

        @Override
        protected void handleNormalizedLoggingCall(
                Level level, Marker marker, String pattern, Object[] args, Throwable t) {
            long suppressed = factory.admit(name + '\0' + pattern);
            if (suppressed < 0) {
                return;
            }
            String message = MessageFormatter.basicArrayFormat(pattern, args);
            StringBuilder fields = new StringBuilder(160)
                    .append("logger=")
                    .append(shortName)
                    .append(" msg=")
                    .append(Log.q(oneLine(message)));
            if (t != null) {
                Throwable root = t;
                for (int depth = 0; root.getCause() != null && depth < 16; depth++) {
                    root = root.getCause();
                }
                fields.append(" error=")
                        .append(Log.q(oneLine(root.getClass().getSimpleName() + ": " + root.getMessage())));
            }
            if (suppressed > 0) {
                fields.append(" repeats_suppressed=").append(suppressed);
            }
            switch (level) {
                case ERROR -> Log.error("library", fields.toString());
                case WARN -> Log.warn("library", fields.toString());
                case INFO -> Log.info("library", fields.toString());
                default -> Log.info("library", "library_level=" + level + " " + fields); // asked for
            }
            if (t != null && on(Level.DEBUG)) {
                Log.stackTrace("library", t);
            }
        }

        private static String oneLine(String s) {
            return s == null ? "null" : s.replace('\n', ' ').replace('\r', ' ');
        }
    }
}
