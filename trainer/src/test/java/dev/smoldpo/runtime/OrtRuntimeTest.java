package dev.smoldpo.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import org.junit.jupiter.api.Test;

class OrtRuntimeTest {
    @Test
    void trainingEnabledLibraryOfTheJavaApiVersionIsWired() {
        OrtEnvironment env = OrtRuntime.environment();
        assertTrue(env.isTrainingEnabled());
        assertEquals(OrtRuntime.EXPECTED_VERSION, env.getVersion());
        assertTrue(System.getProperty(OrtRuntime.ORT_PATH_PROPERTY).endsWith("libonnxruntime.so.1"));
    }
}
