import { connectionType } from './connection.type';
import { DeletionRequest } from './deletion-request.type';
import { Flow } from './flow.type';
import { Profile } from './profile.type';
import { FlowSegment } from './segment.type';
import { Source } from './source.type';
import { Webhook } from './webhook.type';

export const SourceConnection = connectionType('Source', Source);
export const FlowConnection = connectionType('Flow', Flow);
export const FlowSegmentConnection = connectionType('FlowSegment', FlowSegment);
export const ProfileConnection = connectionType('Profile', Profile);
export const WebhookConnection = connectionType('Webhook', Webhook);
export const DeletionRequestConnection = connectionType('DeletionRequest', DeletionRequest);
