package dev.smoldpo.cli;

import dev.smoldpo.train.DemoRecipe;
import dev.smoldpo.train.config.ConfigKeys;
import java.io.PrintStream;
import java.util.Map;

/** {@code fit --list-keys}: every setting with its type, general default, demo recipe value and meaning. */
final class SettingsHelp {
    private SettingsHelp() {}

    static void print(PrintStream out) {
        Map<String, String> demo = DemoRecipe.overrides();
        out.printf("%-29s %-7s %-16s %s%n", "key", "type", "default", "description");
        for (ConfigKeys.Spec s : ConfigKeys.specs()) {
            String def = s.defaultText() == null ? "null" : s.defaultText();
            String recipe = demo.get(s.name());
            String doc = s.key().doc() + (recipe != null && !recipe.equals(def) ? " [demo: " + recipe + "]" : "");
            if (s.type().isEnum()) {
                doc += " {" + String.join(", ", ConfigKeys.wireNamesOf(s.type())) + "}";
            }
            out.printf("%-29s %-7s %-16s %s%n", s.name(), s.typeName(), def.length() > 16 ? "(see right)" : def,
                    def.length() > 16 ? doc + " (default " + def + ")" : doc);
        }
        out.println();
        out.println("Give them as --key value (--learning-rate 5e-6 or --learning_rate 5e-6) or in a --config YAML/JSON file;");
        out.println("flags win over the file, the file over the demo recipe, the recipe over the defaults.");
        out.println("Also accepted, with a warning, because they have no effect here: "
                + String.join(", ", ConfigKeys.keysWithoutEffect()) + ".");
    }
}
