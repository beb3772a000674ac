package dev.smoldpo.grpo.reward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A user's reward as an external command, started once and kept running: for each completion it reads
 * one JSON line {@code {"prompt": ..., "completion": ..., <the row's fields>}} on its standard input and
 * answers one line on its standard output, a number, {@code null} (not scorable) or {@code {"reward": x}}.
 * A reply that is not one of those, a command that exits, or one slower than the timeout stops the run
 * with an error naming the command, the line and the last of its standard error.
 */
public final class CommandReward implements Reward {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String EOF = "\u0000eof";
    private static final int STDERR_LINES = 20;

    private final String name;
    private final List<String> command;
    private final Duration timeout;
    private final Process process;
    private final BufferedWriter in;
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
    private final Deque<String> stderr = new ArrayDeque<>();

    /**
     * @param command the program and its arguments (run in {@code workDir})
     * @param timeout how long one batch may take
     */
    public CommandReward(String name, List<String> command, Path workDir, Duration timeout) throws IOException {
        this.name = name;
        this.command = List.copyOf(command);
        this.timeout = timeout;
        try {
            this.process = new ProcessBuilder(command).directory(workDir.toFile()).start();
        } catch (IOException e) {
            throw new IOException("reward command " + command + " could not be started: " + e.getMessage(), e);
        }
        this.in = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
        Thread out = new Thread(() -> drain(new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8)), true), "reward-" + name + "-out");
        Thread err = new Thread(() -> drain(new BufferedReader(new InputStreamReader(process.getErrorStream(),
                StandardCharsets.UTF_8)), false), "reward-" + name + "-err");
        out.setDaemon(true);
        err.setDaemon(true);
        out.start();
        err.start();
    }

    private void drain(BufferedReader reader, boolean isReply) {
        try (reader) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (isReply) {
                    replies.add(line);
                } else {
                    synchronized (stderr) {
                        stderr.addLast(line);
                        if (stderr.size() > STDERR_LINES) {
                            stderr.removeFirst();
                        }
                    }
                }
            }
        } catch (IOException ignored) {
            // the process ended; what it wrote so far is kept
        }
        if (isReply) {
            replies.add(EOF);
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public synchronized double[] score(List<Sample> samples) throws IOException, InterruptedException {
        for (Sample s : samples) {
            ObjectNode line = JSON.createObjectNode();
            for (Map.Entry<String, Object> f : s.row().entrySet()) {
                line.set(f.getKey(), JSON.valueToTree(f.getValue() instanceof byte[] ? null : f.getValue()));
            }
            line.put("prompt", s.prompt());
            line.put("completion", s.completion());
            try {
                in.write(JSON.writeValueAsString(line));
                in.write('\n');
            } catch (IOException e) {
                throw failure("cannot be written to (" + e.getMessage() + ")");
            }
        }
        try {
            in.flush();
        } catch (IOException e) {
            throw failure("cannot be written to (" + e.getMessage() + ")");
        }
        double[] scores = new double[samples.size()];
        long deadline = System.nanoTime() + timeout.toNanos();
        for (int i = 0; i < scores.length; i++) {
            String reply = replies.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (reply == null) {
                throw failure("did not answer within " + timeout.toSeconds() + " s (" + i + " of " + scores.length
                        + " replies came)");
            }
            if (reply.equals(EOF)) {
                throw failure("exited" + exitCode() + " after " + i + " of " + scores.length + " replies");
            }
            scores[i] = parse(reply);
        }
        return scores;
    }

    private double parse(String reply) throws IOException {
        String s = reply.strip();
        try {
            JsonNode n = JSON.readTree(s);
            if (n != null && n.isObject() && n.has("reward")) {
                n = n.get("reward");
            }
            if (n == null || n.isNull()) {
                return Double.NaN;
            }
            if (n.isNumber() && Double.isFinite(n.doubleValue())) {
                return n.doubleValue();
            }
        } catch (IOException ignored) {
            // not JSON: reported below
        }
        throw failure("answered '" + (s.length() > 200 ? s.substring(0, 200) + "..." : s)
                + "' (expected a number, null or {\"reward\": x})");
    }

    private String exitCode() {
        try {
            return process.waitFor(1, TimeUnit.SECONDS) ? " with code " + process.exitValue() : "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private IOException failure(String what) {
        try {
            Thread.sleep(200); // standard error comes through its own pipe: let what the command just wrote arrive
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        String tail;
        synchronized (stderr) {
            tail = String.join("\n  ", stderr);
        }
        return new IOException("reward command " + command + " " + what
                + (tail.isEmpty() ? "" : "; its last standard error:\n  " + tail));
    }

    @Override
    public void close() {
        try {
            in.close();
        } catch (IOException ignored) {
            // already gone
        }
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
