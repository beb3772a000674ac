import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Just enough of the C preprocessor and of C++ call syntax to read ORT's kernel registrations. */
final class CppMacros {
    private CppMacros() {}

    /**
     * Expands the file's own #defines: function-like ones one level at a time for a few rounds (with
     * ## pasting), then object-like ones (type lists) by substitution; never inside string literals,
     * where a macro parameter such as T is also a constraint name ("T").
     */
    static String expand(String source) {
        String text = source.replace("\\\r\n", " ").replace("\\\n", " ");
        Map<String, String> objects = new LinkedHashMap<>();
        Matcher o = Pattern.compile("(?m)^\\s*#define\\s+([A-Za-z_][A-Za-z0-9_]*)[ \\t]+([^\\n]*)$").matcher(text);
        while (o.find()) {
            objects.put(o.group(1), o.group(2).trim());
        }
        Map<String, String[]> macros = new LinkedHashMap<>();
        Matcher d = Pattern.compile("(?m)^\\s*#define\\s+([A-Za-z_][A-Za-z0-9_]*)\\(([^)]*)\\)(.*)$").matcher(text);
        while (d.find()) {
            macros.put(d.group(1), new String[] {d.group(2), d.group(3)});
        }
        text = text.replaceAll("(?m)^\\s*#(define|undef).*$", "");
        for (int round = 0; round < 4; round++) {
            boolean changed = false;
            for (Map.Entry<String, String[]> e : macros.entrySet()) {
                Matcher use = Pattern.compile("\\b" + e.getKey() + "\\s*\\(").matcher(text);
                StringBuilder sb = new StringBuilder();
                int last = 0;
                while (use.find(last)) {
                    int open = use.end() - 1;
                    int close = matchingParen(text, open);
                    List<String> args = topLevelArgs(text, open);
                    String[] params = e.getValue()[0].split(",");
                    Map<String, String> bindings = new LinkedHashMap<>();
                    for (int i = 0; i < params.length && i < args.size(); i++) {
                        bindings.put(params[i].trim(), args.get(i));
                    }
                    sb.append(text, last, use.start()).append(substitute(e.getValue()[1], bindings).replaceAll("\\s*##\\s*", ""));
                    last = close + 1;
                    changed = true;
                }
                sb.append(text.substring(last));
                text = sb.toString();
            }
            if (!changed) {
                break;
            }
        }
        return substitute(text, objects);
    }

    /** Replaces whole-word names outside string literals. */
    private static String substitute(String text, Map<String, String> bindings) {
        if (bindings.isEmpty()) {
            return text;
        }
        Pattern names = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|\\b(" + String.join("|", bindings.keySet().stream().map(Pattern::quote).toList()) + ")\\b");
        Matcher m = names.matcher(text);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(sb, Matcher.quoteReplacement(m.group(1) == null ? m.group() : bindings.get(m.group(1))));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    private static int matchingParen(String s, int open) {
        int depth = 0;
        boolean inString = false;
        for (int i = open; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' && s.charAt(i - 1) != '\\') {
                inString = !inString;
            } else if (!inString && c == '(') {
                depth++;
            } else if (!inString && c == ')' && --depth == 0) {
                return i;
            }
        }
        throw new IllegalStateException("unbalanced parentheses at " + open);
    }

    /** The comma-separated arguments of the call whose '(' is at {@code open}, trimmed. */
    static List<String> topLevelArgs(String s, int open) {
        int close = matchingParen(s, open);
        List<String> out = new ArrayList<>();
        int depth = 0;
        int angle = 0;
        boolean inString = false;
        int from = open + 1;
        for (int i = open + 1; i < close; i++) {
            char c = s.charAt(i);
            if (c == '"' && s.charAt(i - 1) != '\\') {
                inString = !inString;
            } else if (!inString) {
                if (c == '(' || c == '{' || c == '[') {
                    depth++;
                } else if (c == ')' || c == '}' || c == ']') {
                    depth--;
                } else if (c == '<') {
                    angle++;
                } else if (c == '>' && angle > 0) {
                    angle--;
                } else if (c == ',' && depth == 0 && angle == 0) {
                    out.add(s.substring(from, i).trim());
                    from = i + 1;
                }
            }
        }
        out.add(s.substring(from, close).trim());
        return out;
    }
}
