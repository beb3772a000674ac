package dev.smoldpo.grpo.reward;

import java.text.Normalizer;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The built-in verifiable rewards, each against a row's answer column: exact match, normalised match,
 * multiple choice, a format regex, and numeric tolerance. They score 1 for right, 0 for wrong, and NaN
 * when the row has no answer to compare with.
 */
public final class AnswerRewards {
    private AnswerRewards() {}

    /** The completion, trimmed, equals the answer, trimmed. */
    public static Reward exactMatch(String answerColumn) {
        return new Simple("exact_match", answerColumn, (completion, answer) -> completion.strip().equals(answer.strip()));
    }

    /** Equal after {@link #normalise}: case, accents, punctuation and spacing do not count. */
    public static Reward normalisedMatch(String answerColumn) {
        return new Simple("normalised_match", answerColumn, (completion, answer) -> normalise(completion).equals(normalise(answer)));
    }

    /** The option letter the completion picks (A-Z) equals the answer's letter. */
    public static Reward multipleChoice(String answerColumn) {
        return new Simple("multiple_choice", answerColumn, (completion, answer) -> {
            String picked = choice(completion);
            String expected = choice(answer);
            return picked != null && picked.equals(expected);
        });
    }

    /** The whole completion matches {@code regex} (e.g. {@code (?s)<think>.*?</think>\s*\S.*}); needs no answer. */
    public static Reward format(String regex) {
        Pattern pattern = Pattern.compile(regex);
        return new Reward() {
            @Override
            public String name() {
                return "format";
            }

            @Override
            public double[] score(List<Sample> samples) {
                double[] s = new double[samples.size()];
                for (int i = 0; i < s.length; i++) {
                    s[i] = pattern.matcher(samples.get(i).completion().strip()).matches() ? 1 : 0;
                }
                return s;
            }
        };
    }

    /** The last number in the completion is within {@code tolerance} (absolute) of the answer's number. */
    public static Reward numeric(String answerColumn, double tolerance) {
        return new Simple("numeric", answerColumn, (completion, answer) -> {
            Double got = lastNumber(completion);
            Double want = lastNumber(answer);
            return got != null && want != null && Math.abs(got - want) <= tolerance;
        });
    }

    /** Lower case, accents removed, punctuation dropped, runs of white space as one space, trimmed. */
    public static String normalise(String s) {
        String decomposed = Normalizer.normalize(s, Normalizer.Form.NFKD).replaceAll("\\p{M}", "");
        return decomposed.toLowerCase(Locale.ROOT).replaceAll("[\\p{P}\\p{S}]", " ").replaceAll("\\s+", " ").strip();
    }

    /** How a text names an option, most explicit first: "answer is B", "(B)", "B)" / "B." / "B:", a lone "B". */
    private static final List<Pattern> CHOICES = List.of(
            Pattern.compile("(?i)answer\\s*(?:is|:)?\\s*\\(?([A-Z])\\b"),
            Pattern.compile("(?i)\\(([A-Z])\\)"),
            Pattern.compile("(?i)\\b([A-Z])[).:]"),
            Pattern.compile("(?i)^\\s*([A-Z])\\s*$"));
    private static final Pattern NUMBER = Pattern.compile("[-+]?(?:\\d+(?:[.,]\\d+)*(?:\\.\\d+)?|\\.\\d+)(?:[eE][-+]?\\d+)?");

    /** The option letter a text names: "(B)", "B.", "answer is B", or a lone letter; null when none. */
    static String choice(String text) {
        for (Pattern p : CHOICES) {
            Matcher m = p.matcher(text.strip());
            if (m.find()) {
                return m.group(1).toUpperCase(Locale.ROOT);
            }
        }
        return null;
    }

    static Double lastNumber(String text) {
        Matcher m = NUMBER.matcher(text);
        String last = null;
        while (m.find()) {
            last = m.group();
        }
        if (last == null) {
            return null;
        }
        try {
            return Double.parseDouble(last.replace(",", ""));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** A right/wrong comparison of the completion with the row's answer. */
    @FunctionalInterface
    interface Check {
        boolean right(String completion, String answer);
    }

    private record Simple(String name, String answerColumn, Check check) implements Reward {
        @Override
        public double[] score(List<Sample> samples) {
            double[] s = new double[samples.size()];
            for (int i = 0; i < s.length; i++) {
                Object answer = samples.get(i).row().get(answerColumn);
                s[i] = answer == null ? Double.NaN : check.right(samples.get(i).completion(), String.valueOf(answer)) ? 1 : 0;
            }
            return s;
        }
    }
}
