package dev.smoldpo.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** The shared-model decision on made-up clones and environments, never the real ones. */
class SharedModelsTest {
    @TempDir
    Path tmp;
    Path clone;
    Path module;

    @BeforeEach
    void cloneWithAModule() throws IOException {
        clone = Files.createDirectories(tmp.resolve("work/smoldpo"));
        Files.writeString(clone.resolve("mvnw"), "#!/bin/sh\n");
        module = Files.createDirectories(clone.resolve("trainer"));
    }

    private static Path modelFolder(Path models) throws IOException {
        Path dir = Files.createDirectories(models.resolve(SharedModels.SMOLVLM));
        for (String f : SharedModels.SMOLVLM_FILES) {
            Files.writeString(dir.resolve(f), "{}");
        }
        return dir;
    }

    @Test
    void usesTheFolderBesideTheClone() throws IOException {
        Path dir = modelFolder(tmp.resolve("work/shared/models"));
        SharedModels.Decision d = SharedModels.decide(Map.of(), module);
        assertEquals(dir, d.dir());
        assertEquals(dir, SharedModels.require(d));
        // CI changes nothing when the folder is there
        assertEquals(dir, SharedModels.decide(Map.of("CI", "true"), module).dir());
    }

    @Test
    void skipsOutsideCiWithOneLineSayingWhatToProvide() {
        SharedModels.Decision d = SharedModels.decide(Map.of(), module);
        assertNull(d.dir());
        assertFalse(d.fail());
        assertFalse(d.message().contains("\n"), "one line");
        assertTrue(d.message().contains(tmp.resolve("work/shared/models/SmolVLM-256M-Instruct") + " not found"), d.message());
        assertTrue(d.message().contains("config.json") && d.message().contains("tokenizer.json")
                && d.message().contains("HuggingFaceTB/SmolVLM-256M-Instruct"), d.message());
        assertTrue(d.message().contains("SMOLDPO_SHARED_MODELS"), d.message());
        TestAbortedException skip = assertThrows(TestAbortedException.class, () -> SharedModels.require(d));
        assertTrue(skip.getMessage().contains(d.message()), skip.getMessage());
        // CI set to anything but true/1 is not CI
        assertFalse(SharedModels.decide(Map.of("CI", "false"), module).fail());
    }

    @Test
    void failsUnderCiNamingTheMissingFolder() {
        for (String ci : new String[] {"true", "TRUE", "1"}) {
            SharedModels.Decision d = SharedModels.decide(Map.of("CI", ci), module);
            assertNull(d.dir());
            assertTrue(d.fail(), "CI=" + ci);
            AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> SharedModels.require(d));
            assertTrue(e.getMessage().contains(tmp.resolve("work/shared/models/SmolVLM-256M-Instruct").toString()), e.getMessage());
        }
    }

    @Test
    void theEnvironmentVariableNamesAnotherModelsFolder() throws IOException {
        Path dir = modelFolder(tmp.resolve("elsewhere/models"));
        SharedModels.Decision d = SharedModels.decide(Map.of(SharedModels.ENV, tmp.resolve("elsewhere/models").toString(),
                "CI", "true"), module);
        assertEquals(dir, d.dir());
    }

    @Test
    void anEnvironmentVariablePointingNowhereFailsEvenOutsideCi() throws IOException {
        modelFolder(tmp.resolve("work/shared/models")); // present, but the explicit setting wins
        SharedModels.Decision d = SharedModels.decide(Map.of(SharedModels.ENV, tmp.resolve("typo").toString()), module);
        assertNull(d.dir());
        assertTrue(d.fail());
        assertTrue(d.message().contains("SMOLDPO_SHARED_MODELS=" + tmp.resolve("typo")), d.message());
        assertTrue(d.message().contains(tmp.resolve("typo/SmolVLM-256M-Instruct") + " not found"), d.message());
    }

    @Test
    void anIncompleteFolderFailsNamingTheMissingFiles() throws IOException {
        Path dir = modelFolder(tmp.resolve("work/shared/models"));
        Files.delete(dir.resolve("tokenizer.json"));
        Files.delete(dir.resolve("chat_template.json"));
        SharedModels.Decision d = SharedModels.decide(Map.of(), module);
        assertNull(d.dir());
        assertTrue(d.fail(), "a broken folder is not an absent one");
        assertTrue(d.message().contains(dir + " is incomplete: missing tokenizer.json, chat_template.json"), d.message());
    }

    @Test
    void withoutAProjectRootTheMessageSaysSo() throws IOException {
        Path loose = Files.createDirectories(tmp.resolve("not-a-clone/sub"));
        SharedModels.Decision d = SharedModels.decide(Map.of("CI", "true"), loose);
        assertTrue(d.fail());
        assertTrue(d.message().contains("no project root with mvnw above " + loose), d.message());
    }
}
