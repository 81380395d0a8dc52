import { connectionType } from './connection.type';
import { Flow } from './flow.type';
import { FlowSegment } from './segment.type';
import { Source } from './source.type';

export const SourceConnection = connectionType('Source', Source);
export const FlowConnection = connectionType('Flow', Flow);
export const FlowSegmentConnection = connectionType('FlowSegment', FlowSegment);
