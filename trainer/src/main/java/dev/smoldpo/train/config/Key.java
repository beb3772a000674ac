package dev.smoldpo.train.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A setting of {@link TrainConfig}: its general default (written as on the command line, bound by the
 * same Jackson binding as user values; absent = null) and the one-line description {@code fit
 * --list-keys} prints.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface Key {
    /** The general default, as a command-line value; {@link #NULL} for none. */
    String def() default NULL;

    /** One line for {@code --list-keys}. */
    String doc();

    /** Marks "no default" (the value is null). */
    String NULL = "\u0000null";
}
