import { GraphQLScalarType, Kind } from 'graphql';
import { TamsError } from '../../domain/errors';
import { TimeRange, formatTimeRange, tryParseTimeRange } from '../../domain/timerange';

function parse(value: unknown): TimeRange {
  const parsed = typeof value === 'string' ? tryParseTimeRange(value) : undefined;
  if (parsed === undefined) throw new TamsError('bad_timerange', `${JSON.stringify(value)} is not a TAMS timerange`);
  return parsed;
}

/**
 * A TAMS timerange in its string form (`[0:0_10:0)`). Arguments arrive parsed (the same
 * parser as REST, so a bad one is BAD_USER_INPUT); results are the store's own text.
 */
export const TimeRangeScalar = new GraphQLScalarType<TimeRange, string>({
  name: 'TimeRange',
  description: 'A TAMS timerange in string form, e.g. "[0:0_10:0)"; "()" is the empty range.',
  serialize(value) {
    if (typeof value === 'string') return value;
    return formatTimeRange(value as TimeRange);
  },
  parseValue: parse,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new TamsError('bad_timerange', 'A timerange must be a string');
    return parse(ast.value);
  },
});
