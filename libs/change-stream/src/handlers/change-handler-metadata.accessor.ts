import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CHANGE_HANDLER_METADATA } from '../change-stream.constants';
import type { ChangeHandlerMetadata } from './change-handler.decorator';

/** Reads @ChangeHandler metadata from methods. Internal. */
@Injectable()
export class ChangeHandlerMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  /** The @ChangeHandler entries of a method, in source order (empty when it has none). */
  getHandlerMetadata(method: unknown): ChangeHandlerMetadata[] {
    if (typeof method !== 'function') return [];
    return this.reflector.get<ChangeHandlerMetadata[] | undefined>(CHANGE_HANDLER_METADATA, method) ?? [];
  }
}
