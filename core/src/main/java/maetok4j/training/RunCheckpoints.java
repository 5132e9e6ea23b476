package maetok4j.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.nn.StateDict;
import maetok4j.tensor.AtomicFiles;
import maetok4j.tensor.Safetensors;
import maetok4j.tokenizer.CheckpointException;
import maetok4j.tokenizer.Checkpoints;
import maetok4j.tokenizer.MAETok;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.TokenizerConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A run's {@code checkpoints/} folder: {@code step-NNNNNNNN/} for the last K saves and {@code best/} for the
 * best held-out PSNR. Each holds the model as its own kind of folder (a tokenizer's or a diffusion model's
 * {@code config.json} + {@code model.safetensors}) and the training state: {@code ema.safetensors}, {@code optimizer.safetensors}, {@code disc.safetensors},
 * {@code disc_optimizer.safetensors}, {@code state.json}. A checkpoint is written into a hidden folder and renamed
 * into place, so a crash leaves either the previous checkpoints or the new complete one.
 */
public final class RunCheckpoints {

    /** A complete checkpoint: its step and folder. */
    public record Saved(long step, Path folder) {}

    /** What {@code state.json} records besides the tensors. */
    public record State(long step, double bestPsnr) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PREFIX = "step-";

    private final Path dir;
    private final int keepLast;

    public RunCheckpoints(Path dir, int keepLast) {
        this.dir = dir;
        this.keepLast = keepLast;
    }

    /**
     * Where a run starts: with {@code resume}, the newest checkpoint (or null, after telling {@code note} the run starts
     * from step 0); without it, null, and a folder already holding checkpoints is refused so no run is overwritten.
     */
    public Saved start(boolean resume, Consumer<String> note) {
        Saved latest = latest();
        if (resume && latest == null) {
            note.accept("no checkpoint in " + dir + ": starting from step 0");
        }
        if (!resume && latest != null) {
            throw new IllegalArgumentException(dir.getParent() + " already holds checkpoints of a run: pass --resume to continue it, or choose another --out");
        }
        return resume ? latest : null;
    }

    /** The newest complete checkpoint, or null. */
    public Saved latest() {
        List<Saved> all = list();
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    private List<Saved> list() {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Saved> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> {
                String n = p.getFileName().toString();
                if (n.startsWith(PREFIX) && Files.isRegularFile(p.resolve("state.json"))) {
                    try {
                        out.add(new Saved(Long.parseLong(n.substring(PREFIX.length())), p));
                    } catch (NumberFormatException e) {
                        // not ours
                    }
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot list: " + e.getMessage(), e);
        }
        out.sort(Comparator.comparingLong(Saved::step));
        return out;
    }

    /** File of a checkpoint's training-only tensors (the VMAE's mask token), which a tokenizer folder does not hold. */
    static final String TRAINING_ONLY = "training_only.safetensors";

    void save(long step, MAETok model, AdamW optimizer, Ema ema, Adversary adversary, double bestPsnr, boolean best) {
        save(step, model, Map.of(), optimizer, ema, adversary, bestPsnr, best);
    }

    /**
     * @param trainingOnly tensors a resumed run needs that the tokenizer folder does not hold (the VMAE's mask token),
     *                     written to {@link #TRAINING_ONLY} when not empty
     * @param adversary    null when the run has no discriminator
     */
    void save(long step, Tokenizer model, Map<String, NDArray> trainingOnly, AdamW optimizer, Ema ema, Adversary adversary,
            double bestPsnr, boolean best) {
        save(step, model::save, trainingOnly, optimizer, ema, adversary, bestPsnr, best);
    }

    /**
     * A checkpoint of a model that is not a tokenizer (a diffusion model): {@code writeModel} writes its folder's files
     * into the directory it is given; the optimiser's moments and the EMA are saved beside them. No {@code best/}.
     */
    public void save(long step, Consumer<Path> writeModel, AdamW optimizer, Ema ema) {
        save(step, writeModel, Map.of(), optimizer, ema, null, Double.NEGATIVE_INFINITY, false);
    }

    private void save(long step, Consumer<Path> writeModel, Map<String, NDArray> trainingOnly, AdamW optimizer, Ema ema,
            Adversary adversary, double bestPsnr, boolean best) {
        Path target = dir.resolve(String.format("%s%08d", PREFIX, step));
        Path tmp = dir.resolve(".tmp-" + target.getFileName());
        try {
            deleteTree(tmp);
            Files.createDirectories(tmp);
            writeModel.accept(tmp);
            if (!trainingOnly.isEmpty()) {
                Safetensors.write(tmp.resolve(TRAINING_ONLY), trainingOnly, Map.of("format", "pt"));
            }
            Safetensors.write(tmp.resolve("optimizer.safetensors"), optimizer.stateTensors(), Map.of("step", Long.toString(optimizer.step())));
            if (ema != null) {
                Safetensors.write(tmp.resolve("ema.safetensors"), ema.parameters(), Map.of("format", "pt"));
            }
            ObjectNode state = JSON.createObjectNode().put("step", step).put("best_psnr", bestPsnr);
            if (adversary != null) {
                adversary.save(tmp, state);
            }
            AtomicFiles.writeString(tmp.resolve("state.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state) + "\n");
            deleteTree(target);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            if (best) {
                Path bestTmp = dir.resolve(".tmp-best");
                deleteTree(bestTmp);
                copyTree(target, bestTmp);
                Path old = dir.resolve(".old-best");
                deleteTree(old);
                if (Files.exists(dir.resolve("best"))) {
                    Files.move(dir.resolve("best"), old, StandardCopyOption.ATOMIC_MOVE);
                }
                Files.move(bestTmp, dir.resolve("best"), StandardCopyOption.ATOMIC_MOVE);
                deleteTree(old);
            }
            List<Saved> all = list();
            for (int i = 0; i < all.size() - keepLast; i++) {
                deleteTree(all.get(i).folder());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": cannot write the checkpoint: " + e.getMessage(), e);
        }
    }

    /** Loads the training state of a checkpoint into the optimiser and the EMA (null when the run keeps none). */
    public State restore(Saved saved, AdamW optimizer, Ema ema) {
        return restore(saved, optimizer, ema, null);
    }

    /** Loads the training state of a checkpoint into the optimiser, EMA and adversary. */
    State restore(Saved saved, AdamW optimizer, Ema ema, Adversary adversary) {
        Path f = saved.folder();
        try {
            JsonNode state = JSON.readTree(f.resolve("state.json").toFile());
            try (NDManager tmp = NDManager.newBaseManager()) {
                try (Safetensors opt = Safetensors.open(f.resolve("optimizer.safetensors"))) {
                    optimizer.restore(readAll(opt, tmp), Long.parseLong(opt.metadata().getOrDefault("step", "0")));
                }
                if (ema != null) {
                    Path e = f.resolve("ema.safetensors");
                    if (!Files.exists(e)) {
                        throw new CheckpointException(e + ": no such file (the run was saved without ema)");
                    }
                    try (Safetensors s = Safetensors.open(e)) {
                        ema.restore(readAll(s, tmp));
                    }
                }
                if (adversary != null) {
                    adversary.restore(f, state, tmp);
                }
            }
            return new State(state.path("step").asLong(), state.path("best_psnr").asDouble(Double.NEGATIVE_INFINITY));
        } catch (IOException e) {
            throw new CheckpointException(f + ": cannot read the training state: " + e.getMessage());
        }
    }

    static Map<String, NDArray> readAll(Safetensors file, NDManager manager) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (String k : file.tensors().keySet()) {
            out.put(k, file.read(k, manager));
        }
        return out;
    }

    /** A tokenizer folder's weights under the given config (keys the config lacks, such as dropped auxiliary decoders, are ignored). */
    static MAETok loadModel(Path folder, TokenizerConfig config, NDManager manager) {
        Path weights = folder.resolve(Checkpoints.WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            throw new CheckpointException(weights + ": no such file");
        }
        try (Safetensors file = Safetensors.open(weights)) {
            return MAETok.load(config, file, manager, StateDict.Mode.LENIENT, new ArrayList<>());
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path q : s.toList()) {
                Files.copy(q, to.resolve(q.getFileName()));
            }
        }
    }
}
