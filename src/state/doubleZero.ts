/**
 * Zero held as a double: the first value of a state field that later holds
 * fractions or event times (milliseconds past 2^31). V8 gives an object
 * field the representation of the first value stored in it, a small integer
 * for a literal `0` or `-1`. The first fraction stored then moves every
 * object of that shape to a new one and throws away the optimised code that
 * read them, once per field and shape, at whatever event first brings the
 * fraction. A field that starts on a double never moves. Write `DOUBLE_ZERO`
 * for 0 and `x + DOUBLE_ZERO` for another integer start (the sum is a double
 * whenever the expression is not optimised away, and it is evaluated before
 * the state's shape exists); the values read back are the same numbers.
 * Read from a typed array so that no build step folds it to the literal `0`.
 */
export const DOUBLE_ZERO: number = new Float64Array(1)[0];
